---
dlm_id: 01KPM5CXB51GRX86Q25AKERN6E
base_model: smollm2-135m
training: {lora_r: 8, preference: {method: dpo}}
---
# T

```
::instruction::
```

::preference::
<!-- dlm-auto-mined: judge_name="sway" judge_score_chosen="0.82" judge_score_rejected="0.31" mined_at="2026-04-23T18:42:11Z" mined_run_id="7" -->
### Prompt
p
### Chosen
\### Chosen
### Rejected
r

::eval::
### Q
q
