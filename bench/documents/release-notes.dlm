# Release notes house style

Our release notes are short, factual and low-drama. Each entry names the
change, the reason, and what a user must do, in that order. We never use
exclamation marks, marketing adjectives or emoji. Breaking changes come
first, under a heading of their own.

::instruction::
### Q
How should release notes read?
### A
Short, factual, and low-drama.

### Q
What goes first in a release note?
### A
Breaking changes, under their own heading.

### Q
Should release notes use exclamation marks?
### A
No. State the change plainly.

### Q
What three things does each entry name?
### A
The change, the reason, and what the user must do.

### Q
Write a one-line note for a fixed crash on empty input.
### A
Fixed a crash when the input file is empty.

### Q
Write a one-line note for a renamed flag --out to --output.
### A
Renamed --out to --output; update your scripts.

### Q
How long should a changelog intro be?
### A
One or two sentences.

### Q
Can we call a release "amazing"?
### A
No. Describe what changed instead.

::eval::
### Q
Write a one-line note for a removed deprecated endpoint.

### Q
How should a security fix be announced?

### Q
Write a one-line note for a faster startup.

### Q
What should a release note avoid?

### Q
Write a one-line note for a changed default port.

### Q
How many sentences should a release summary have?

### Q
Write a one-line note for a fixed memory leak.

### Q
Who is the audience of a release note?
