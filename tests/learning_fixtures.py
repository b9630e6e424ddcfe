"""A programme whose scouts have a preference the default scorer barely weighs: they interview
only people who live near the workplace (the default gives distance 3% of the score). The
far-away candidates have the richer profiles, so the default ranks them first; a ranker
learnt from the scouts' decisions should not."""

from __future__ import annotations

from tests import payloads

TITLES = [
    "Aiuto cuoco",
    "Cuoco di linea",
    "Addetto cucina",
    "Commis di cucina",
    "Aiuto cuoco mensa",
    "Cuoco capo partita",
    "Addetta preparazione pasti",
    "Aiuto cucina ristorante",
    "Cuoco per catering",
    "Addetto alla cucina calda",
]
CENTRE = {"municipality": "Milano", "country": "IT", "lat": 45.46, "lon": 9.19}


def person(i: int) -> dict:
    near = i % 2 == 0
    location = dict(CENTRE, lat=CENTRE["lat"] + (0.004 if near else 0.20))
    if near:
        skills = ["food preparation"]
        summary = f"Aiuto in cucina, {i % 3 + 1} anni."
    else:
        skills = [
            "food preparation",
            {"label": "knife skills", "level": 4, "years": 6},
            "cooking",
        ]
        summary = f"Cuoco per {i % 5 + 5} anni: preparazione, cottura, linea, mensa e catering."
    return payloads.candidate(skills=skills, summary=summary, location=location, max_commute_km=30)


def is_near(external_id: str) -> bool:
    return int(external_id.split("-")[1]) % 2 == 0


async def load_programme(client, headers, people: int = 24, vacancies: int = 10) -> list[dict]:
    """Puts the employer, people and vacancies; returns one shortlist per vacancy."""
    await client.put("/v1/employers/emp-1", json=payloads.employer(), headers=headers)
    for i in range(people):
        r = await client.put(f"/v1/candidates/cand-{i:02d}", json=person(i), headers=headers)
        assert r.status_code in (200, 201), r.text
    shortlists = []
    for v in range(vacancies):
        body = payloads.vacancy(title=TITLES[v % len(TITLES)], location=CENTRE)
        r = await client.put(f"/v1/vacancies/vac-{v:02d}", json=body, headers=headers)
        assert r.status_code in (200, 201), r.text
        made = await client.post(
            f"/v1/vacancies/vac-{v:02d}/shortlists", json={"limit": people}, headers=headers
        )
        assert made.status_code == 201, made.text
        shortlists.append(made.json())
    return shortlists


async def scouts_decide(client, headers, shortlists, prefer=is_near, tag: str = "") -> None:
    """The scouts' verdict on every person of every shortlist: interviewed if preferred,
    rejected for the distance otherwise."""
    for shortlist in shortlists:
        items = []
        for item in shortlist["items"]:
            who = item["candidate_external_id"]
            liked = prefer(who)
            items.append(
                {
                    "vacancy_external_id": shortlist["vacancy_external_id"],
                    "candidate_external_id": who,
                    "shortlist_id": shortlist["id"],
                    "event": "interviewed" if liked else "rejected",
                    **({} if liked else {"reason": "distance"}),
                    "idempotency_key": f"{tag}{shortlist['id']}-{who}",
                }
            )
        r = await client.post("/v1/feedback:bulk", json={"items": items}, headers=headers)
        assert r.status_code == 200, r.text
        assert all(i["status"] in ("created", "duplicate") for i in r.json()["items"]), r.text
