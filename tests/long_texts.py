"""Long, realistic texts for the candidate → vacancies direction: job-board style vacancies with
the usual company blurb, benefits and application boilerplate around a short role-specific
core, and a multi-page CV whose relevant experience is one section among many.

Written for Ponte's tests (no real person or employer)."""

from __future__ import annotations

_COMPANY = (
    "About us. We are a family-run group founded in 1987 with sites across Lombardy and more "
    "than four hundred colleagues from twenty-six countries. We believe that people grow when "
    "they are given responsibility, training and a team that supports them. Our values are "
    "respect, reliability and continuous improvement, and we take part in the municipal "
    "job-integration programme together with local associations and training centres. "
)
_OFFER = (
    "What we offer. A three-month paid internship with a monthly allowance, extendable by three "
    "months, with the real prospect of a fixed-term or permanent contract at the end. A tutor "
    "who follows you from the first day, safety training recognised by the region, work "
    "clothing, a canteen voucher for every shift and a contribution to public transport. "
    "Flexible shifts can be agreed for people with care duties. "
)
_APPLY = (
    "How to apply. Send your CV in Italian or English to the job centre that follows you, or "
    "come to our open day on the first Monday of the month. Candidates will be contacted for "
    "an interview within two weeks. We welcome applications from everyone regardless of age, "
    "gender, origin, religion or disability; the data you send are processed according to the "
    "GDPR for this selection only. Knowledge of Italian at least at A2 level is required; "
    "courses during working hours can be arranged. "
)


def _vacancy(title: str, role: str) -> dict[str, str]:
    return {"title": title, "description": _COMPANY + role + _OFFER + _APPLY}


VACANCIES: dict[str, dict[str, str]] = {
    "v-warehouse": _vacancy(
        "Warehouse operative – forklift",
        "The role. In our logistics hub in Lodi you will receive goods at the loading dock, "
        "check delivery notes against the order, move pallets with the forklift and the "
        "electric pallet truck, put stock away on high-bay racking and pick orders with a "
        "handheld barcode scanner. You will help with inventory counts, wrap and label "
        "outgoing pallets and keep the aisles clear. A valid forklift licence is an advantage; "
        "otherwise we train you for it. ",
    ),
    "v-kitchen": _vacancy(
        "Kitchen assistant – company canteen",
        "The role. In the canteen of a large office building you will wash, peel and cut "
        "vegetables, prepare cold dishes and basic sauces under the chef's guidance, portion "
        "meals during the lunch service, keep the work surfaces and the cold room clean and "
        "follow the HACCP hygiene rules. You will learn to use the combi oven and the "
        "blast chiller and help with receiving food deliveries. ",
    ),
    "v-cleaning": _vacancy(
        "Cleaning operative – hospital",
        "The role. In the wards and outpatient areas of a hospital you will clean and disinfect "
        "rooms, bathrooms and corridors following the infection-control protocols, use floor "
        "scrubbers and steam machines, empty waste bins and sort clinical waste, restock "
        "soap and paper and record every intervention on the ward checklist. ",
    ),
    "v-care": _vacancy(
        "Care assistant – residential home for the elderly",
        "The role. In a residential home for older people you will help residents with washing, "
        "dressing and meals, accompany them during activities and walks, make beds, tidy "
        "rooms and report any change in their condition to the nurse on duty. Patience, "
        "kindness and respect for the dignity of each resident are what matter most. ",
    ),
}

# A multi-page CV: the warehouse experience is one section among many generic ones.
WAREHOUSE_CV = (
    "Curriculum vitae. Personal profile. I am a reliable and motivated person who arrived in "
    "Italy four years ago and who is looking for stable work where I can learn and grow. I am "
    "punctual, I like working in a team, I learn quickly and I am not afraid of physical work "
    "or early shifts. I live in Lodi with my wife and two children and I can travel by bicycle "
    "or by train. "
    "Education. Secondary school diploma in my country of origin, with subjects in mathematics, "
    "geography and French. In Italy I attended a course of Italian language at the CPIA in "
    "Lodi and passed the A2 exam, and I am now attending the B1 course in the evening. I also "
    "completed the general workplace safety course of four hours and the specific course for "
    "low-risk activities. "
    "Work experience. Warehouse worker, logistics cooperative, Lodi, two years. Unloading "
    "trucks at the loading dock, checking goods against the delivery note, moving pallets with "
    "the forklift and the electric pallet truck, putting stock away on racking, order picking "
    "with a barcode scanner, wrapping and labelling pallets for shipment, monthly inventory "
    "counts. Forklift licence obtained in 2023. "
    "Seasonal farm worker, fruit harvest, Verona province, one summer. Picking apples and "
    "pears, loading crates on trailers, sorting fruit by size. "
    "Volunteer, parish food bank, Lodi, one year, Saturday mornings. Sorting donated food, "
    "packing parcels for families, helping in the small kitchen when the soup is served at "
    "Christmas, cleaning the hall after the distribution. "
    "Before coming to Italy: shop assistant in my uncle's grocery shop for three years, "
    "serving customers, keeping the shelves in order, receiving deliveries from suppliers and "
    "writing the stock in a notebook. "
    "Languages. Mother tongue Wolof; French fluent (C1); Italian A2, studying for B1; English "
    "basic (A2). "
    "Digital skills. Smartphone, WhatsApp, email, basic use of a computer, the handheld "
    "scanner and the warehouse management software used in the cooperative. "
    "Other information. Driving licence B, not yet converted. Available immediately, also "
    "for shifts starting at 6 in the morning and on Saturdays. I like football and I train "
    "the under-twelve team of the neighbourhood club on Wednesday afternoons. References "
    "available from the cooperative's team leader and from the food bank coordinator. I "
    "authorise the processing of my personal data according to the GDPR. "
)
