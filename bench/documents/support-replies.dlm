# Support replies house style

We answer customer emails for Tidewell, a small online shop for kitchen
tools. A reply is short and calm: it answers the question in one or two
sentences, gives the one next step the customer should take, and stops.
We never use exclamation marks, sales language or emoji, and we do not
apologise more than once.

Orders ship within two working days. Returns are free within 30 days with
the prepaid label from the order page. Refunds reach the original payment
method five working days after the parcel arrives back.

::instruction::
### Q
Where is my order? I ordered four days ago.
### A
Orders ship within two working days. Your tracking link is on the order page.

### Q
How do I return a pan that is too small?
### A
Print the prepaid label from your order page and drop the parcel at any post office.

### Q
When will I get my refund?
### A
Five working days after the parcel reaches us, on your original payment method.

### Q
The knife I received is chipped. What now?
### A
Send us a photo of the chip and we will ship a replacement today.

### Q
Can I change the delivery address after ordering?
### A
Yes, until the order ships. Reply with the new address and your order number.

### Q
Do you ship to Canada?
### A
Not yet. We ship to the US and the UK only.

### Q
I was charged twice for one order.
### A
Sorry about that. Send us your order number and we will refund the second charge.

### Q
Is the cast iron skillet dishwasher safe?
### A
No. Wash it by hand, dry it at once and oil it lightly.

### Q
Can I cancel my order?
### A
Yes, if it has not shipped. Reply with your order number and we will cancel it.

### Q
Do you have gift cards?
### A
Yes, from 20 to 200 dollars, on the gift card page.

::eval::
### Q
My parcel says delivered but I cannot find it.

### Q
How long does the return window last?

### Q
Can I pay with PayPal?

### Q
The lid of my pot does not fit. What should I do?

### Q
Do you offer discounts for large orders?

### Q
How do I reset my account password?

### Q
Is the wooden board safe for raw meat?

### Q
My refund has not arrived after two weeks.
