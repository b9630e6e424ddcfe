"""Write a long-text variant of an evaluation set, to measure ranking on texts like real ones.

    .venv/bin/python bench/long_texts.py ../shared/eval/esco_dev var/long_eval
    .venv/bin/ponte eval --set var/long_eval --no-skills
    .venv/bin/python bench/matches_eval.py --set var/long_eval --no-skills

Each candidate's summary is wrapped in 10–16 sentences of generic CV prose (personal statement,
education, languages, GDPR consent …) and each vacancy's description in 10–16 sentences of
generic employer prose (company blurb, conditions, how to apply), drawn with a fixed seed from
the pools below; skills, titles and judgements are unchanged. What decides the fit is then a
small part of long texts that share most of their words, as with real CVs and job-board ads.
The variant is written outside the repository (the source set may not be copied in).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
rng = random.Random(11)
CV = [
    "I am a reliable and motivated person looking for stable work where I can learn and grow.",
    "I am punctual, I like working in a team and I learn quickly.",
    "I arrived in Italy a few years ago and I am attending an Italian course in the evening.",
    "I completed the general workplace safety course of four hours.",
    "Secondary school diploma in my country of origin, with subjects in mathematics and geography.",
    "I have a driving licence B and I can travel by train or by bicycle.",
    "Languages: mother tongue Arabic, French fluent, Italian A2, English basic.",
    "Digital skills: smartphone, email, basic use of a computer and office software.",
    "I am available immediately, also for early shifts and on Saturdays.",
    "In my free time I like football and I volunteer with the local parish.",
    "References are available on request from my previous employers.",
    "I authorise the processing of my personal data according to the GDPR.",
    "I live with my family and I am looking for a job close to home.",
    "I took part in a job orientation workshop organised by the municipality.",
    "I am honest, patient and I respect the rules of the workplace.",
    "I would like to improve my skills and obtain a permanent contract.",
    "I have experience of working under pressure and meeting deadlines.",
    "I am used to physical work and long hours standing.",
    "I attended a course on how to write a CV and prepare for an interview.",
    "My objective is to find a job that allows me to support my family.",
]
VAC = [
    "We are a family-run company founded in 1987 with more than four hundred colleagues.",
    "Our values are respect, reliability and continuous improvement.",
    "We take part in the municipal job-integration programme with local associations.",
    "We offer a three-month paid internship, extendable by three months.",
    "At the end there is a real prospect of a fixed-term or permanent contract.",
    "A tutor follows you from the first day and you receive safety training.",
    "We provide work clothing, canteen vouchers and a contribution to public transport.",
    "Flexible shifts can be agreed for people with care duties.",
    "Send your CV to the job centre that follows you, or come to our open day.",
    "Candidates will be contacted for an interview within two weeks.",
    "We welcome applications from everyone regardless of age, gender, origin or disability.",
    "The data you send are processed according to the GDPR for this selection only.",
    "Knowledge of Italian at least at A2 level is required; courses can be arranged.",
    "We care about sustainability and our buildings run on solar power.",
    "Working with us means joining a young, international and friendly team.",
    "Quality, transparency and social responsibility guide everything we do.",
    "Our people are our strength and every year we invest in training.",
    "Many of our team leaders started with us as interns.",
    "Full-time position, shifts from Monday to Saturday.",
    "Please apply through the partner job centre only.",
]


def pad(core: str, pool: list[str], n: int) -> str:
    before = rng.sample(pool, n // 2)
    after = rng.sample(pool, n - n // 2)
    return " ".join([*before, *([core] if core else []), *after])


cands = [json.loads(line) for line in (src / "candidates.jsonl").open(encoding="utf-8")]
vacs = [json.loads(line) for line in (src / "vacancies.jsonl").open(encoding="utf-8")]
with (dst / "candidates.jsonl").open("w", encoding="utf-8") as f:
    for c in cands:
        c["summary"] = pad(c.get("summary") or "", CV, rng.randint(10, 16))
        f.write(json.dumps(c) + "\n")
with (dst / "vacancies.jsonl").open("w", encoding="utf-8") as f:
    for v in vacs:
        v["description"] = pad(v.get("description") or "", VAC, rng.randint(10, 16))
        f.write(json.dumps(v) + "\n")
(dst / "qrels.json").write_text((src / "qrels.json").read_text(encoding="utf-8"), encoding="utf-8")
print(f"{len(cands)} candidates and {len(vacs)} vacancies written to {dst}")
