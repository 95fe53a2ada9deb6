# Spoke & Chain workshop answers

Spoke & Chain is a bicycle repair workshop. When a customer asks about a
repair, we answer in one or two plain sentences: what to check or do, and
when to bring the bike in. We do not upsell, we do not use exclamation
marks, and we name the tool when one is needed.

A standard service costs 60 euros and takes one working day. Tyres on
road bikes run at 6 to 8 bar, on city bikes at 3.5 to 5 bar, on mountain
bikes at 1.5 to 2.5 bar. A chain is worn out when a chain checker shows
0.75% stretch; a worn chain also wears the cassette. Disc brake pads are
replaced when less than 1 mm of pad material is left. We keep bikes for
repair for up to 14 days after we call the customer.

::instruction::
### Q
What pressure should I put in my road bike tyres?
### A
6 to 8 bar, a little less if you are light or the road is wet.

### Q
How do I know if my chain needs replacing?
### A
Measure it with a chain checker; at 0.75% stretch it is worn out and should be replaced.

### Q
My brakes squeal when I stop. Is that dangerous?
### A
Usually not, but check the pads: if less than 1 mm is left, bring the bike in for new pads.

### Q
How much does a standard service cost?
### A
60 euros, and the bike is ready the next working day.

### Q
How long does a standard service take?
### A
One working day.

### Q
My gears skip under load. What should I do?
### A
Check the chain for wear first; a worn chain skips on the cassette. Bring it in if the chain is fine.

### Q
Can I leave my bike with you for a month?
### A
No. We keep repaired bikes for up to 14 days after we call you.

### Q
What pressure for a mountain bike on trails?
### A
1.5 to 2.5 bar; lower for grip on loose ground, higher for rocky trails.

### Q
Do I need a special tool to check my chain?
### A
Yes, a chain checker. It costs a few euros and takes ten seconds to use.

### Q
My city bike tyre feels soft. How hard should it be?
### A
3.5 to 5 bar. Pump it up and check it again the next day for a slow leak.

::eval::
### Q
I commute on a city bike. What tyre pressure do you recommend?

### Q
My chain checker shows 0.5%. Should I replace the chain?

### Q
How thin can my disc brake pads get before they need replacing?

### Q
If I bring my bike in on Monday for a service, when can I pick it up?

### Q
Why did my new chain skip on my old cassette?

### Q
You called me about my bike two weeks ago. Can I still collect it?

### Q
Is 4 bar enough for my road bike?

### Q
What does a service cost if I bring two bikes?
