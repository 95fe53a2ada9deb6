# Code review guidelines

Every change merges through a review: no change merges without one approving
review, and the author never approves their own change. A review takes
within one working day of the request; if the reviewer cannot make that, they
say so and hand it to someone else.

Review comments are about the code, never about the author: they never
mention the author by name and never say "you". Each comment that blocks
the merge is marked "blocking"; everything else is a suggestion the author
may ignore.

Keep changes small: under 400 changed lines, one topic each. Tests come in
the same change as the code they test. The reviewer runs the tests locally
only when the change touches the build.

::instruction::
### Q
How long should a code review take?
### A
Within one working day of the request.

### Q
Can a change merge without a review?
### A
No. Every change needs one approving review.

### Q
May authors approve their own changes?
### A
No. Someone else must approve it.

### Q
Should a review comment mention the author?
### A
No. Comments are about the code, never about the author.

### Q
How large should a change be?
### A
Under 400 changed lines, on one topic.

### Q
How do you mark a comment that blocks the merge?
### A
Write "blocking" on it; everything else is a suggestion.

### Q
Where do the tests for a change go?
### A
In the same change as the code they test.

### Q
What should a reviewer do if they cannot review in time?
### A
Say so and hand the review to someone else.

### Q
When does the reviewer run the tests locally?
### A
Only when the change touches the build.

### Q
Must the author act on a suggestion that is not blocking?
### A
No. A suggestion may be ignored.

::eval::
### Q
A reviewer is away until next week. What should they do with a new review request?

### Q
Is "you forgot the null check" a good review comment?

### Q
A change has 1,200 changed lines across three features. What should the author do?

### Q
Can the tests for a new function come in a follow-up change?

### Q
How many approving reviews does a change need before it merges?
