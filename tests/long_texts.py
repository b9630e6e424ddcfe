"""Long, realistic texts for the candidate → vacancies direction: job-board style vacancies in
which each employer's own blurb and conditions outweigh a short role-specific core, and a
multi-page CV whose relevant experience is one section among many.

Written for Ponte's tests (no real person or employer)."""

from __future__ import annotations

_BLURBS = {
    "logistics": (
        "Who we are. Since 1994 our company has been moving goods for the biggest retail brands "
        "in northern Italy, with six hubs, a fleet of electric vans and a strong commitment to "
        "sustainability: our buildings run on solar power and we were the first in the region "
        "to certify our carbon footprint. Our people are our strength, and every year we invest "
        "in training, in safety and in a welcoming environment where everyone can contribute "
        "ideas. We are proud partners of the municipal programme for the inclusion of refugees "
        "and long-term unemployed people, and many of our team leaders started as interns. "
    ),
    "hospitality": (
        "About the group. We are a hospitality group with hotels, restaurants and contract "
        "catering in Milan and on Lake Como, serving more than eight thousand meals a day to "
        "companies, schools and hospitals. We care about fresh seasonal ingredients, local "
        "producers and zero food waste, and we donate our surplus to charities every evening. "
        "Working with us means joining a young, international and friendly team where "
        "passion and attention to detail are recognised, with clear paths to grow from "
        "assistant to chef de partie and beyond. "
    ),
    "facility": (
        "The company. A national leader in integrated facility services for healthcare, with "
        "more than three thousand employees, ISO 9001 and ISO 14001 certified, working every "
        "day in hospitals, clinics and laboratories to guarantee safe, hygienic and welcoming "
        "spaces for patients and staff. Quality, transparency and social responsibility guide "
        "everything we do, and our training academy offers courses recognised by the region. "
    ),
    "care": (
        "Our foundation. A non-profit foundation running four residential homes and a day "
        "centre for older people in the province of Milan, with a long tradition of "
        "volunteering and close ties with the families of our guests and with the local "
        "parishes. We believe in care that is personal, warm and respectful, and we support our "
        "staff with supervision, flexible rotas and a small grant for childcare. "
    ),
}
_APPLY = {
    "logistics": (
        "Conditions: full-time, shifts from Monday to Saturday, three-month internship with "
        "allowance, then fixed-term contract. Please apply through the job centre. "
    ),
    "hospitality": (
        "We offer a paid internship of three months, meals on duty, uniforms, and a real chance "
        "of a contract. Send us your CV and a short presentation of yourself. "
    ),
    "facility": (
        "Internship of three months with monthly allowance, extendable; training on site; "
        "possible hiring. Applications via the partner job centre only. "
    ),
    "care": (
        "Three-month internship, extendable by three, with a tutor and regional training "
        "credits; a permanent contract is possible. Contact the foundation's office. "
    ),
}


def _vacancy(title: str, kind: str, role: str) -> dict[str, str]:
    return {"title": title, "description": _BLURBS[kind] + role + _APPLY[kind]}


VACANCIES: dict[str, dict[str, str]] = {
    "v-warehouse": _vacancy(
        "Warehouse operative – forklift",
        "logistics",
        "The role. In our logistics hub in Lodi you will receive goods at the loading dock, "
        "check delivery notes against the order, move pallets with the forklift and the "
        "electric pallet truck, put stock away on high-bay racking and pick orders with a "
        "handheld barcode scanner. You will help with inventory counts, wrap and label "
        "outgoing pallets and keep the aisles clear. A valid forklift licence is an advantage; "
        "otherwise we train you for it. ",
    ),
    "v-kitchen": _vacancy(
        "Kitchen assistant – company canteen",
        "hospitality",
        "The role. In the canteen of a large office building you will wash, peel and cut "
        "vegetables, prepare cold dishes and basic sauces under the chef's guidance, portion "
        "meals during the lunch service, keep the work surfaces and the cold room clean and "
        "follow the HACCP hygiene rules. You will learn to use the combi oven and the "
        "blast chiller and help with receiving food deliveries. ",
    ),
    "v-cleaning": _vacancy(
        "Cleaning operative – hospital",
        "facility",
        "The role. In the wards and outpatient areas of a hospital you will clean and disinfect "
        "rooms, bathrooms and corridors following the infection-control protocols, use floor "
        "scrubbers and steam machines, empty waste bins and sort clinical waste, restock "
        "soap and paper and record every intervention on the ward checklist. ",
    ),
    "v-care": _vacancy(
        "Care assistant – residential home for the elderly",
        "care",
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
