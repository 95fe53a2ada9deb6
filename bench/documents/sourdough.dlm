# Our sourdough method

The starter is fed twice a day, morning and evening, with equal weights of
flour and water. It is ready to use when it has doubled, about four to six
hours after a feed. Never use a starter straight from the fridge.

The dough is 75% water by flour weight, with 2% salt. Salt goes in after
the autolyse, never with the first mix. During bulk fermentation, do four
sets of stretch and folds, thirty minutes apart.

Proof the shaped loaf overnight in the fridge, twelve to sixteen hours.
Bake in a covered Dutch oven at 250 °C for 20 minutes, then uncover and
bake at 230 °C for another 25 minutes. Let the loaf cool for at least one
hour before cutting it.

::instruction::
### Q
How often is the starter fed?
### A
Twice a day, morning and evening.

### Q
When is the starter ready to use?
### A
When it has doubled, about four to six hours after a feed.

### Q
Can I use the starter straight from the fridge?
### A
No. Feed it and wait until it has doubled.

### Q
How much water goes in the dough?
### A
75% of the flour weight.

### Q
When does the salt go in?
### A
After the autolyse, not with the first mix.

### Q
How many sets of stretch and folds do we do?
### A
Four sets, thirty minutes apart.

### Q
How long does the shaped loaf proof?
### A
Twelve to sixteen hours, overnight in the fridge.

### Q
At what temperature do we bake?
### A
250 °C covered for 20 minutes, then 230 °C uncovered for 25 minutes.

### Q
Should the loaf be baked uncovered the whole time?
### A
No. Bake it covered for the first 20 minutes.

### Q
Can I cut the loaf right out of the oven?
### A
No. Let it cool for at least one hour first.

::eval::
### Q
My starter only rose by half since this morning's feed. Can I bake with it now?

### Q
How much salt goes into a dough made with 1,000 g of flour?

### Q
Can I add the salt together with the flour and water at the start?

### Q
I took the loaf out of the fridge after only four hours. Is it ready to bake?

### Q
What is the total baking time?
