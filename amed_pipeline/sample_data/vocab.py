"""Word lists the synthetic programme draws from: names, job titles, organisations, free text.

Kept apart from the generating code so that the realism (messy job titles, accented names,
survey wording) can be reviewed and extended without reading any logic. Every job title is
listed under the profession the reference rules (`data/reference/job_title_rules.csv`) give
it; a test applies the rules to every title here so a new title cannot silently land in the
wrong role group. Every string is encodable in cp1252 because one export is written in it.
"""

from __future__ import annotations

TRAINING_TYPES = (
    "helping_people_become_more_active",
    "physical_activity_in_clinical_care",
    "motivational_interviewing",
    "bespoke_iapt",
)
ONLINE_WORKSHOPS = TRAINING_TYPES[:2]

# Session titles per training type; each must classify via training_type_rules.csv.
SESSION_TITLES = {
    "helping_people_become_more_active": (
        "Helping people become more active",
        "Helping People Become More Active (online workshop)",
        "Helping people to become more active – 1 hour workshop",
        "Active conversations: helping people become more active",
    ),
    "physical_activity_in_clinical_care": (
        "Physical activity in clinical care",
        "Physical Activity in Clinical Care (online)",
        "Physical activity in clinical care – Moving Medicine workshop",
        "Physical activity conversations for clinicians",
    ),
    "motivational_interviewing": (
        "Motivational interviewing for physical activity",
        "Motivational Interviewing: skills for physical activity conversations",
        "MI for physical activity – half day",
    ),
    "bespoke_iapt": (
        "Bespoke training for IAPT services",
        "Physical activity in talking therapies (IAPT)",
        "Bespoke IAPT training: physical activity and mental health",
    ),
}

ROLE_GROUPS = (
    "health_and_social_care",
    "third_sector_volunteers_council",
    "link_workers",
    "talking_therapies",
)

# profession -> realistic job titles as people type them into booking forms.
JOB_TITLES = {
    "physiotherapist": (
        "Physiotherapist",
        "Senior Physiotherapist",
        "Band 6 Physio",
        "Band 5 rotational physio",
        "MSK Physiotherapist",
        "Physio",
        "Community Physiotherapist",
        "Respiratory physiotherapist",
        "Clinical Specialist Physiotherapist",
        "First Contact Physiotherapist",
        "physio (MSK)",
        "Advanced practitioner physiotherapist",
    ),
    "nurse": (
        "Practice Nurse",
        "Staff Nurse",
        "District Nurse",
        "Community nurse",
        "Mental Health Nurse",
        "Nurse Practitioner",
        "Advanced Nurse Practitioner",
        "Senior Staff Nurse",
        "RGN",
        "Ward Sister",
        "Nursing Associate",
        "Practice nurse (diabetes lead)",
        "School nurse",
        "Cardiac rehab nurse",
    ),
    "gp": ("GP", "GP Partner", "Salaried GP", "GP registrar", "General Practitioner", "GP trainee"),
    "doctor": (
        "Consultant Physician",
        "FY2 doctor",
        "Junior Doctor",
        "Specialty registrar",
        "Consultant in Respiratory Medicine",
        "Orthopaedic surgeon",
        "Registrar (geriatrics)",
    ),
    "occupational_therapist": (
        "Occupational Therapist",
        "Community OT",
        "Senior OT",
        "OT",
        "Occupational therapist band 6",
        "Occupational Therapy Assistant",
    ),
    "dietitian": ("Dietitian", "Specialist Dietitian", "Community dietician", "Nutritionist"),
    "pharmacist": ("Clinical Pharmacist", "Pharmacist", "Practice pharmacist", "Pharmacy Technician"),
    "healthcare_assistant": (
        "Healthcare Assistant",
        "Health Care Assistant",
        "HCA",
        "Support worker",
        "Rehab assistant",
        "Therapy assistant",
        "Care assistant",
    ),
    "paramedic": ("Paramedic", "Specialist Paramedic", "Community paramedic"),
    "midwife": ("Midwife", "Community Midwife", "Health Visitor"),
    "exercise_professional": (
        "Exercise professional",
        "Cardiac rehab instructor",
        "Exercise referral officer",
        "Rehabilitation instructor",
        "Exercise referral coordinator",
        "Cardiac Rehab Specialist",
    ),
    "social_worker": ("Social Worker", "Senior social worker", "Care worker", "Home care worker", "Carers lead"),
    "health_manager": (
        "Practice Manager",
        "Assistant practice manager",
        "Service Manager",
        "Medical Receptionist",
        "Administrator",
        "Clinical administrator",
        "Commissioner",
    ),
    "volunteer": (
        "Volunteer",
        "Volunteer befriender",
        "Befriender",
        "Volunteer coordinator",
        "Hospital volunteer",
        "Volunteer walk leader",
    ),
    "library_worker": ("Library assistant", "Librarian", "Library supervisor", "Library services officer"),
    "housing_support": (
        "Housing support officer",
        "Housing officer",
        "Tenancy sustainment officer",
        "Support officer",
        "Housing support worker",
    ),
    "community_worker": (
        "Community development worker",
        "Charity manager",
        "Outreach worker",
        "Youth worker",
        "Project officer",
        "Community engagement officer",
        "Development officer",
        "Project coordinator",
        "Community centre manager",
    ),
    "council_officer": (
        "Council officer",
        "Local Authority Officer",
        "Public Health Officer",
        "Public health practitioner",
        "Active travel officer, County Council",
    ),
    "fitness_instructor": (
        "Fitness instructor",
        "Personal trainer",
        "Leisure centre manager",
        "Gym instructor",
        "Leisure assistant",
        "Swimming coach",
        "Sports coach",
    ),
    "social_prescriber": (
        "Social Prescribing Link Worker",
        "Social prescriber",
        "Link worker",
        "Community connector",
        "Social prescribing link worker (PCN)",
        "Community Link Worker",
    ),
    "health_and_wellbeing_coach": (
        "Health & Wellbeing Coach",
        "Health and wellbeing coach",
        "Health coach",
        "Wellbeing coach",
        "Health and Wellbeing Coach (PCN)",
    ),
    "care_coordinator": (
        "Patient Care Co-ordinator",
        "Care coordinator",
        "Care Co-ordinator",
        "Patient care coordinator",
    ),
    "psychological_wellbeing_practitioner": (
        "PWP",
        "Psychological Wellbeing Practitioner",
        "Trainee PWP",
        "Senior PWP",
        "Psychological well-being practitioner",
    ),
    "psychological_therapist": (
        "High Intensity CBT Therapist",
        "CBT therapist",
        "High intensity therapist",
        "Counsellor",
        "IAPT therapist",
        "Psychotherapist",
        "Cognitive behavioural psychotherapist",
        "Counselor",
    ),
}

# Plausible earlier job titles of people who changed role group between trainings,
# keyed by the role group they ended up in (each title is in a different group).
PREVIOUS_JOB_TITLES = {
    "health_and_social_care": ("Volunteer", "Care coordinator", "Wellbeing coach", "Support officer"),
    "third_sector_volunteers_council": ("Healthcare Assistant", "Social prescriber", "Care assistant"),
    "link_workers": ("Volunteer befriender", "Healthcare Assistant", "Community development worker", "Receptionist"),
    "talking_therapies": ("Healthcare Assistant", "Support worker", "Volunteer", "Wellbeing coach"),
}

# Titles the rules do not classify: only ever given to people who never attend.
UNCLASSIFIED_TITLES = ("Student", "Retired", "Team leader", "Admin", "n/a")

# Relative weights of professions inside each role group (physiotherapists are chosen
# separately to hit the calibrated clinical-care count).
PROFESSION_WEIGHTS = {
    "health_and_social_care": {
        "nurse": 26,
        "gp": 7,
        "doctor": 7,
        "occupational_therapist": 10,
        "dietitian": 5,
        "pharmacist": 5,
        "healthcare_assistant": 10,
        "paramedic": 3,
        "midwife": 4,
        "exercise_professional": 7,
        "social_worker": 7,
        "health_manager": 9,
    },
    "third_sector_volunteers_council": {
        "volunteer": 25,
        "library_worker": 10,
        "housing_support": 12,
        "community_worker": 28,
        "council_officer": 15,
        "fitness_instructor": 10,
    },
    "link_workers": {"social_prescriber": 50, "health_and_wellbeing_coach": 30, "care_coordinator": 20},
    "talking_therapies": {"psychological_wellbeing_practitioner": 55, "psychological_therapist": 45},
}

ORGANISATIONS = {
    "health_and_social_care": (
        "Northfield Medical Centre",
        "Riverside Surgery",
        "Thames Valley Community Health",
        "Kennet Valley Hospital",
        "Cherwell Health Centre",
        "Vale Community Hospital",
        "Chiltern Road Surgery",
        "Loddon Valley Primary Care Network",
        "Ouse Valley Hospital",
    ),
    "third_sector_volunteers_council": (
        "Kennet Befriending Service",
        "Oakfield Housing Association",
        "Vale Community Library",
        "Riverside Leisure Centre",
        "County Council",
        "Greenway Youth Trust",
        "Home-Start Vale",
        "Borough Council",
        "Volunteer Centre",
    ),
    "link_workers": (
        "Northfield PCN",
        "Chiltern Vale PCN",
        "Cherwell Rural PCN",
        "Loddon PCN",
        "Community Wellbeing Hub",
    ),
    "talking_therapies": (
        "Thames Valley Talking Therapies",
        "Vale Psychological Therapies Service",
        "Healthy Minds Service",
    ),
}

FEMALE_FIRST_NAMES = (
    "Olivia Amelia Isla Ava Emily Sophie Grace Lily Mia Ella Charlotte Jessica Hannah Lucy Chloe "
    "Emma Rebecca Sarah Laura Rachel Claire Helen Joanne Nicola Karen Susan Julie Lisa Amanda Kelly "
    "Gemma Kirsty Natalie Stacey Louise Catherine Elizabeth Victoria Alice Eleanor Harriet Imogen "
    "Phoebe Ruby Freya Poppy Evie Daisy Jasmine Priya Aisha Fatima Amira Zara Noor Sana Ayesha "
    "Mariam Nadia Anjali Deepa Sunita Kavita Mei Ling Chiamaka Ngozi Abena Ama Folake Funmi Aoife "
    "Niamh Siobhan Ciara Róisín Siân Zoë Renée Chloé Anaïs Noémie Agnieszka Katarzyna Magdalena "
    "Ana María Lucía Beatriz Joana Inês Ffion Cerys Megan Bethan Rhian Morag Kirsten Fiona Jean "
    "Margaret Pauline Janet Gillian Denise Tracey Michelle Dawn Angela Sharon Beverley Jane Mary "
    "Anne Ruth Esther Naomi Leah Hayley Danielle Jodie Kerry Vicky"
).split()

MALE_FIRST_NAMES = (
    "Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Henry Leo Alfie Joshua "
    "Freddie Archie Ethan Isaac Samuel Daniel Matthew Andrew David Michael Christopher Mark Paul "
    "Richard Stephen Peter John Robert Simon Neil Gareth Rhys Dylan Owen Callum Ewan Ross Craig "
    "Stuart Graham Ian Kevin Gary Darren Lee Dean Wayne Jason Adam Ben Luke Nathan Ryan Liam Connor "
    "Sean Ciarán Padraig Mohammed Ahmed Ali Omar Yusuf Hassan Bilal Imran Tariq Raj Arjun Vikram "
    "Sanjay Amit Rohan Wei Jun Hao Chinedu Emeka Kwame Kofi Tunde Femi Jakub Piotr Tomasz Marek "
    "José Luís João André René Jérôme François Björn Dominic Patrick Martin Philip Anthony Keith "
    "Colin Barry Trevor Nigel Malcolm Alan Brian Derek"
).split()

FIRST_NAMES = tuple(FEMALE_FIRST_NAMES + MALE_FIRST_NAMES)

SURNAMES = tuple(
    (
        "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
        "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood "
        "Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James "
        "Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter "
        "Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson "
        "Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt "
        "Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker "
        "Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson "
        "Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West "
        "Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton O’Brien O'Connor O'Neill "
        "McCarthy McDonald MacLeod Ferguson Henderson Hamilton Fraser Grant Reid Kerr Doyle Byrne "
        "Gallagher Quinn Brennan Nolan Okafor Adeyemi Mensah Owusu Boateng Oyelaran Nwosu Chukwu "
        "Asante Nguyen Chen Wang Li Zhang Liu Wong Tan Kowalski Nowak Kowalczyk Lewandowski Silva "
        "Santos Ferreira Pereira Gonçalves Rodrigues García Fernández López Martínez Sánchez Núñez "
        "Müller Schmidt Dubois Lefèvre Mercier Rossi Bianchi Ricci D'Souza Fernandes Pinto Menon "
        "Nair Iyer Sharma Gupta Chauhan Mistry Shah Desai Joshi Chowdhury Rahman Islam Uddin Miah "
        "Akhtar Iqbal Malik Butt Rashid Aziz Farah Abdi Warsame Jama Smith-Jones Lloyd-Davies "
        "Bowen-Hughes Pritchard Rees Vaughan Bevan Prosser Gwynne Abbott Ashton Barton Bishop Black "
        "Booth Bolton Bond Boyle Bray Briggs Buckley Bull Burgess Burke Carr Chambers Clayton Coleman "
        "Cross Curtis Dean Dennis Doherty Douglas Duncan Farmer Field Fleming Francis Frost Gardner "
        "Gordon Hale Hancock Hardy Hart Hayes Holland Hopkins Horton Howe Hudson Hurst Jarvis "
        "Jennings Kemp Kent Lamb Lane Lowe Mann Marsh May Miles Newman Nicholson Norman Norris Parry "
        "Parsons Peters Porter Potter Preston Read Rhodes Riley Rose Ross Rowe Sharp Sutton Swift "
        "Talbot Tucker Wade Walters Warren Watts Weston Wheeler Whitehead Wilkins Willis Wyatt Yates"
    ).split()
    + ["Ní Bhriain", "Brontë"]
)

# Names given to a couple of people in the cp1252 export so the encoding really matters.
SIGNATURE_NAMES = (("Zoë", "O’Brien"), ("Renée", "Lefèvre"))

EMAIL_DOMAINS = {
    "health_and_social_care": ("nhs.example", "oxfordhealth.nhs.example", "berkshire.nhs.example", "bucks.nhs.example"),
    "third_sector_volunteers_council": ("example.org", "council.example", "charity.example", "mail.example"),
    "link_workers": ("nhs.example", "example.org", "pcn.nhs.example"),
    "talking_therapies": ("nhs.example", "talkingtherapies.nhs.example"),
    "unclassified": ("mail.example", "example.com"),
}

TRAINERS = (
    "Dr Helen Marsh",
    "Tom Bradley",
    "Sophie Kaur",
    "Gareth Rees",
    "Amira Shah",
    "Louise Fox",
    "Mark Jennings",
    "Ngozi Okafor",
)

VENUES = {
    "get_berkshire_active": (
        "Reading Town Hall",
        "Wokingham Civic Offices",
        "Newbury Community Hub",
        "Slough Library meeting room",
    ),
    "active_oxfordshire": ("Oxford Town Hall", "Banbury Community Centre", "Abingdon Guildhall"),
    "leap": ("Aylesbury Civic Centre", "Milton Keynes Christian Centre", "High Wycombe Library"),
}

HEARD_ABOUT = (
    "Email from Active Oxfordshire",
    "A colleague",
    "Twitter",
    "PCN newsletter",
    "Practice manager, via the CCG bulletin",
    "",
    "",
    "Our team lead booked us on",
)

DOING_DIFFERENTLY = (
    "Asking every patient about their activity levels.",
    "I use the 'small changes' approach instead of giving advice.",
    "More confident raising physical activity with clients who have long-term conditions.",
    "Signposting to local walking groups and the leisure centre.",
    "Using open questions and letting people set their own goals.",
    "Started a weekly walk for our service users.",
    "I bring up activity in annual reviews now, not just when someone asks.",
    "Not much yet - caseload has been too high.",
    "Talking about movement rather than 'exercise', which lands better.",
    "Sharing the Moving Medicine resources with colleagues.",
    "Building activity into care plans.",
    "We added a question about activity to our assessment form.",
    "Linking people with the social prescriber for activity support.",
    "Using MI techniques in my one-to-ones.",
    "Feel able to challenge the 'too ill to be active' idea.",
)

DOING_DIFFERENTLY_MULTILINE = (
    "Asking about activity at every review.\nReferring to the falls prevention classes.",
    "Two things:\n1) open questions\n2) agreeing one small goal",
    "More conversations with carers too.\nUsing the leaflets from the session.",
)

# Survey questionnaire (exact wording shared by every tool).
FEEDBACK_QUESTIONS = (
    "How useful was today's session to your role?",
    "How important is it to have conversations about physical activity with the people you support?",
    "How confident do you feel having conversations about physical activity?",
    "What is your job title?",
    "Where do you work?",
    "Email address (optional)",
)
FOLLOWUP_QUESTIONS = (
    "How useful has the training been to your role?",
    "Since the training, how often do you have conversations about physical activity?",
    "What are you doing differently?",
    "Where do you work?",
    "Email address (optional)",
)
SETTINGS = (
    "GP practice",
    "Hospital",
    "Charity or voluntary sector",
    "Local authority (council)",
    "Community health services",
    "Other",
)
HOW_OFTEN_MORE = ("Much more often", "Slightly more often")
HOW_OFTEN_NOT_MORE = ("About the same", "Less often")

# Where people of each role group say they work (feedback survey, uncalibrated).
SETTING_WEIGHTS = {
    "health_and_social_care": {
        "Hospital": 38,
        "GP practice": 27,
        "Community health services": 28,
        "Other": 5,
        "Local authority (council)": 2,
    },
    "third_sector_volunteers_council": {
        "Charity or voluntary sector": 50,
        "Local authority (council)": 35,
        "Other": 15,
    },
    "link_workers": {"GP practice": 55, "Charity or voluntary sector": 30, "Community health services": 8, "Other": 7},
    "talking_therapies": {"Community health services": 60, "Other": 25, "Hospital": 15},
}
# Role groups plausible for a follow-up respondent answering each setting.
SETTING_ROLE_GROUPS = {
    "GP practice": ("health_and_social_care", "link_workers", "talking_therapies"),
    "Hospital": ("health_and_social_care",),
    "Charity or voluntary sector": ("third_sector_volunteers_council", "link_workers"),
    "Local authority (council)": ("third_sector_volunteers_council", "link_workers"),
    "Community health services": ("health_and_social_care", "talking_therapies", "link_workers"),
    "Other": ROLE_GROUPS,
    "": ROLE_GROUPS,
}
