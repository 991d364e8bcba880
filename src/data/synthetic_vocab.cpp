// The schema vocabulary of the synthetic generator: ten domains, each a small family of tables
// linked by foreign keys, with more candidate columns than any one schema uses.
#include <utility>

#include "data/synthetic_internal.h"

namespace llmtune::data::synthetic {

namespace {

using Pool = std::vector<std::string>;

ColumnSpec spec(std::string name, Gen gen) {
  ColumnSpec c;
  c.name = std::move(name);
  c.gen = gen;
  return c;
}

ColumnSpec pool(std::string name, Pool values) {
  ColumnSpec c = spec(std::move(name), Gen::kPool);
  c.pool = std::move(values);
  return c;
}
ColumnSpec person(std::string name) {
  return spec(std::move(name), Gen::kPerson);
}
ColumnSpec combo(std::string name, Pool a, Pool b, std::string suffix = "") {
  ColumnSpec c = spec(std::move(name), Gen::kCombo);
  c.pool = std::move(a);
  c.pool2 = std::move(b);
  c.affix = std::move(suffix);
  return c;
}
ColumnSpec code(std::string name, std::string prefix, int64_t lo, int64_t hi) {
  ColumnSpec c = spec(std::move(name), Gen::kCode);
  c.affix = std::move(prefix);
  c.lo = lo;
  c.hi = hi;
  return c;
}
ColumnSpec integer(std::string name, int64_t lo, int64_t hi, int64_t step = 1) {
  ColumnSpec c = spec(std::move(name), Gen::kInt);
  c.lo = lo;
  c.hi = hi;
  c.step = step;
  return c;
}
// A REAL in [lo, hi] with `decimals` digits after the point; lo and hi are in those units.
ColumnSpec real(std::string name, int64_t lo, int64_t hi, int decimals) {
  ColumnSpec c = spec(std::move(name), Gen::kReal);
  c.lo = lo;
  c.hi = hi;
  c.decimals = decimals;
  return c;
}
ColumnSpec date(std::string name, int64_t first_year, int64_t last_year) {
  ColumnSpec c = spec(std::move(name), Gen::kDate);
  c.lo = first_year;
  c.hi = last_year;
  return c;
}
ColumnSpec fk(std::string name, std::string parent) {
  ColumnSpec c = spec(std::move(name), Gen::kForeignKey);
  c.affix = std::move(parent);
  return c;
}

const Pool kCities = {"New York", "London",  "Paris",     "Tokyo",     "Berlin",    "Madrid",
                      "Rome",     "Toronto", "Sydney",    "Chicago",   "Boston",    "Seattle",
                      "Austin",   "Denver",  "Dublin",    "Amsterdam", "Vienna",    "Prague",
                      "Lisbon",   "Oslo",    "Stockholm", "Zurich",    "Singapore", "Seoul"};
const Pool kCountries = {"USA",   "Canada", "Mexico",  "Brazil",      "Argentina",
                         "UK",    "France", "Germany", "Spain",       "Italy",
                         "Japan", "China",  "India",   "Australia",   "Kenya",
                         "Egypt", "Sweden", "Norway",  "Netherlands", "South Korea"};
const Pool kGenders = {"Male", "Female"};
const Pool kYesNo = {"Yes", "No"};
const Pool kRegions = {"North", "South", "East", "West", "Central"};
const Pool kCompanies = {"Acme Corp",     "Globex",         "Initech",   "Umbrella Ltd",
                         "Stark Systems", "Wayne Group",    "Hooli",     "Vandelay Inc",
                         "Soylent Co",    "Tyrell Corp",    "Cyberdyne", "Wonka Foods",
                         "Oceanic",       "Massive Dynamic"};
const Pool kAdjectives = {"Silent", "Golden", "Hidden", "Broken",  "Endless", "Crimson",
                          "Quiet",  "Wild",   "Last",   "Distant", "Frozen",  "Bright"};
const Pool kNouns = {"River",  "Garden", "Empire",  "Journey", "Harbor", "Storm",
                     "Forest", "Mirror", "Kingdom", "Road",    "Shadow", "Summer"};
const Pool kStatuses = {"Active", "Inactive", "Pending", "Closed"};

Domain company() {
  return {
      "company",
      {{"offices",
        "office",
        "city",
        {pool("city", kCities), pool("country", kCountries), integer("capacity", 20, 400, 10),
         date("opened_date", 1985, 2022), real("monthly_rent", 200000, 4000000, 2),
         integer("floors", 1, 30), pool("region", kRegions), integer("parking_spots", 0, 200, 5),
         pool("building_type", {"Tower", "Campus", "Shared Space", "Warehouse"}),
         integer("meeting_rooms", 1, 25), pool("status", kStatuses)}},
       {"departments",
        "department",
        "name",
        {pool("name", {"Sales", "Marketing", "Engineering", "Finance", "Human Resources", "Legal",
                       "Support", "Research", "Operations", "Procurement"}),
         fk("office_id", "offices"), integer("budget", 100000, 5000000, 50000),
         integer("head_count", 3, 250), integer("founded_year", 1970, 2020), person("manager_name"),
         pool("region", kRegions), integer("floor", 1, 12),
         pool("cost_center", {"CC-100", "CC-200", "CC-300", "CC-400", "CC-500"}),
         date("created_date", 1990, 2022), pool("status", kStatuses)}},
       {"employees",
        "employee",
        "name",
        {person("name"), fk("department_id", "departments"),
         pool("job_title", {"Engineer", "Analyst", "Manager", "Designer", "Accountant", "Clerk",
                            "Director", "Consultant", "Technician"}),
         integer("salary", 30000, 180000, 1000), integer("age", 21, 65),
         date("hire_date", 1998, 2023), pool("city", kCities), pool("gender", kGenders),
         real("performance_score", 10, 50, 1), integer("years_experience", 0, 35),
         integer("bonus", 0, 20000, 500), pool("remote", kYesNo),
         pool("contract_type", {"Full-time", "Part-time", "Contractor", "Intern"})}},
       {"projects",
        "project",
        "name",
        {combo("name", {"Project", "Operation", "Initiative"},
               {"Falcon", "Atlas", "Phoenix", "Orion", "Apollo", "Nimbus", "Titan", "Zephyr",
                "Aurora", "Vega"}),
         fk("department_id", "departments"), integer("budget", 10000, 2000000, 5000),
         date("start_date", 2015, 2024), date("end_date", 2016, 2026),
         pool("status", {"Planned", "Active", "Completed", "On Hold"}),
         pool("priority", {"Low", "Medium", "High", "Critical"}), pool("client", kCompanies),
         integer("team_size", 2, 25), pool("region", kRegions),
         real("completion_rate", 0, 1000, 1)}},
       {"assignments",
        "assignment",
        "",
        {fk("employee_id", "employees"), fk("project_id", "projects"),
         pool("role", {"Lead", "Developer", "Tester", "Reviewer", "Advisor"}),
         integer("hours_per_week", 4, 40, 2), date("start_date", 2015, 2024),
         real("billable_rate", 4000, 25000, 2), integer("rating", 1, 5)}},
       {"trainings",
        "training",
        "title",
        {combo("title", {"Advanced", "Intro to", "Applied", "Modern"},
               {"Leadership", "Negotiation", "Python", "Accounting", "Safety", "Design",
                "Statistics", "Writing"}),
         fk("department_id", "departments"),
         pool("provider", {"Coursera", "Internal", "Udemy", "LinkedIn", "Local College"}),
         real("cost", 5000, 300000, 2), integer("hours", 2, 80, 2), date("start_date", 2018, 2024),
         pool("category", {"Technical", "Soft Skills", "Compliance", "Management"}),
         integer("seats", 5, 60, 5), pool("online", kYesNo)}},
       {"dependents",
        "dependent",
        "name",
        {person("name"), fk("employee_id", "employees"),
         pool("relationship", {"Spouse", "Child", "Parent", "Sibling"}),
         date("birth_date", 1950, 2020), pool("gender", kGenders), pool("insured", kYesNo)}}}};
}

Domain retail() {
  return {
      "retail",
      {{"categories",
        "category",
        "name",
        {pool("name", {"Electronics", "Home", "Garden", "Toys", "Sports", "Books", "Clothing",
                       "Beauty", "Grocery", "Office"}),
         integer("display_order", 1, 20),
         pool("department", {"Hardlines", "Softlines", "Consumables", "Media"}),
         real("tax_rate", 0, 250, 1), pool("seasonal", kYesNo), date("created_date", 2005, 2022)}},
       {"suppliers",
        "supplier",
        "name",
        {pool("name", kCompanies), pool("city", kCities), pool("country", kCountries),
         real("rating", 10, 50, 1), person("contact_name"), integer("since_year", 1990, 2023),
         integer("lead_time_days", 1, 60), pool("payment_terms", {"Net 30", "Net 60", "Prepaid"}),
         pool("preferred", kYesNo), integer("min_order_quantity", 10, 500, 10)}},
       {"products",
        "product",
        "name",
        {combo("name", {"Classic", "Smart", "Ultra", "Eco", "Deluxe", "Compact", "Pro", "Mini"},
               {"Lamp", "Chair", "Kettle", "Speaker", "Backpack", "Watch", "Blender", "Desk",
                "Camera", "Jacket", "Sneaker", "Monitor"}),
         fk("category_id", "categories"), fk("supplier_id", "suppliers"),
         real("price", 199, 99999, 2), integer("stock", 0, 500),
         pool("color", {"Black", "White", "Red", "Blue", "Green", "Silver"}),
         pool("brand", {"Nordic", "Zenith", "Apex", "Lumen", "Vertex", "Orbit"}),
         real("weight_kg", 1, 250, 1), date("launch_date", 2012, 2024), real("rating", 10, 50, 1),
         integer("warranty_months", 0, 36, 6)}},
       {"customers",
        "customer",
        "name",
        {person("name"), pool("city", kCities), pool("country", kCountries),
         date("join_date", 2010, 2024), integer("loyalty_points", 0, 5000, 50),
         integer("age", 18, 80), pool("gender", kGenders),
         pool("segment", {"Consumer", "Corporate", "Home Office"}),
         pool("membership", {"Bronze", "Silver", "Gold", "Platinum"}),
         real("credit_limit", 50000, 2000000, 2), pool("newsletter", kYesNo)}},
       {"stores",
        "store",
        "name",
        {combo("name", kCities, {"Central", "Plaza", "Outlet", "Mall"}, " Store"),
         pool("city", kCities), date("opened_date", 1995, 2023), integer("size_sqm", 200, 5000, 50),
         person("manager_name"), integer("staff_count", 5, 120), pool("region", kRegions),
         pool("open_sundays", kYesNo), real("annual_revenue", 10000000, 900000000, 2)}},
       {"orders",
        "order",
        "",
        {fk("customer_id", "customers"), fk("store_id", "stores"), date("order_date", 2019, 2024),
         pool("status", {"Pending", "Shipped", "Delivered", "Cancelled", "Returned"}),
         real("total_amount", 500, 250000, 2),
         pool("payment_method", {"Card", "Cash", "PayPal", "Gift Card"}),
         pool("shipping_city", kCities), date("shipped_date", 2019, 2024),
         integer("items_count", 1, 12), pool("channel", {"Online", "In Store", "Phone"})}},
       {"order_items",
        "order item",
        "",
        {fk("order_id", "orders"), fk("product_id", "products"), integer("quantity", 1, 10),
         real("unit_price", 199, 99999, 2), integer("discount_percent", 0, 30, 5),
         pool("gift_wrap", kYesNo)}},
       {"reviews",
        "review",
        "",
        {fk("product_id", "products"), fk("customer_id", "customers"), integer("stars", 1, 5),
         date("review_date", 2019, 2024), integer("helpful_votes", 0, 120),
         pool("verified_purchase", kYesNo),
         combo("headline", {"Great", "Poor", "Decent", "Solid"},
               {"value", "quality", "purchase", "design"})}}}};
}

Domain school() {
  const Pool subjects = {"Algebra",   "Biology", "Chemistry",  "History",  "Physics",
                         "Economics", "Art",     "Literature", "Geometry", "Music"};
  return {
      "school",
      {{"departments",
        "department",
        "name",
        {pool("name", {"Mathematics", "Science", "Humanities", "Arts", "Languages", "Computing"}),
         pool("building", {"North Hall", "South Hall", "Main Building", "Annex"}),
         integer("budget", 50000, 900000, 10000), person("head_name"),
         integer("founded_year", 1950, 2015), integer("staff_count", 3, 40),
         pool("phone_extension", {"101", "202", "303", "404", "505"})}},
       {"teachers",
        "teacher",
        "name",
        {person("name"), fk("department_id", "departments"), date("hire_date", 1990, 2023),
         integer("salary", 35000, 120000, 1000), pool("subject", subjects), integer("age", 24, 67),
         pool("title", {"Professor", "Lecturer", "Assistant", "Tutor"}), pool("gender", kGenders),
         integer("office_room", 100, 450, 10), integer("years_experience", 0, 40),
         pool("tenured", kYesNo)}},
       {"classrooms",
        "classroom",
        "room_code",
        {code("room_code", "R", 100, 460),
         pool("building", {"North Hall", "South Hall", "Main Building", "Annex"}),
         integer("capacity", 15, 200, 5), integer("floor", 0, 5), pool("has_projector", kYesNo),
         pool("room_type", {"Lecture", "Lab", "Seminar"}), integer("computers", 0, 40, 5)}},
       {"courses",
        "course",
        "title",
        {combo("title", subjects, {"I", "II", "101", "201", "Advanced", "Honors"}),
         fk("teacher_id", "teachers"), fk("classroom_id", "classrooms"), integer("credits", 1, 6),
         pool("level", {"Beginner", "Intermediate", "Advanced"}),
         pool("semester", {"Fall", "Spring", "Summer"}), integer("max_students", 10, 120, 5),
         date("start_date", 2019, 2024), real("fee", 10000, 150000, 2), pool("online", kYesNo),
         integer("weekly_hours", 1, 8)}},
       {"students",
        "student",
        "name",
        {person("name"), integer("age", 17, 30), pool("city", kCities), real("gpa", 200, 400, 2),
         pool("major",
              {"Biology", "Computer Science", "History", "Economics", "Physics", "Art", "Nursing"}),
         integer("enrollment_year", 2015, 2024), pool("gender", kGenders),
         pool("scholarship", kYesNo), date("birth_date", 1994, 2007),
         integer("credits_earned", 0, 180, 3), pool("residence", {"Campus", "Home", "Rented"})}},
       {"enrollments",
        "enrollment",
        "",
        {fk("student_id", "students"), fk("course_id", "courses"),
         pool("grade", {"A", "B", "C", "D", "F"}), integer("score", 40, 100),
         date("enroll_date", 2019, 2024), pool("status", {"Enrolled", "Completed", "Dropped"}),
         integer("absences", 0, 15)}},
       {"exams",
        "exam",
        "",
        {fk("course_id", "courses"), date("exam_date", 2019, 2024),
         integer("duration_minutes", 30, 180, 15), integer("max_score", 50, 100, 10),
         pool("exam_type", {"Midterm", "Final", "Quiz", "Practical"}),
         integer("num_questions", 5, 60, 5), pool("open_book", kYesNo)}}}};
}

Domain sports() {
  return {
      "sports",
      {{"leagues",
        "league",
        "name",
        {combo("name", {"Premier", "National", "Coastal", "Metro", "Continental"},
               {"League", "Conference", "Division"}),
         pool("country", kCountries), integer("founded_year", 1880, 2010),
         pool("level", {"Professional", "Semi-Pro", "Amateur"}), integer("num_teams", 8, 24, 2),
         integer("prize_money", 100000, 5000000, 100000),
         pool("sport", {"Football", "Basketball", "Hockey", "Rugby"})}},
       {"stadiums",
        "stadium",
        "name",
        {combo("name", {"Victory", "Liberty", "Riverside", "Union", "Memorial", "Highland"},
               {"Park", "Arena", "Field", "Stadium"}),
         pool("city", kCities), integer("capacity", 5000, 90000, 500),
         integer("opened_year", 1900, 2022), pool("surface", {"Grass", "Artificial", "Hybrid"}),
         pool("roof", {"Open", "Retractable", "Closed"}),
         real("construction_cost", 100, 20000, 1)}},
       {"teams",
        "team",
        "name",
        {combo("name", kCities, {"Hawks", "Lions", "Rangers", "Comets", "Wolves", "Giants"}),
         fk("league_id", "leagues"), fk("stadium_id", "stadiums"), pool("city", kCities),
         integer("founded_year", 1880, 2015), integer("budget", 1000000, 90000000, 500000),
         integer("titles", 0, 20),
         pool("colors", {"Red and White", "Blue", "Green and Gold", "Black", "Orange"}),
         person("owner_name"), integer("fans_thousands", 5, 900, 5),
         pool("mascot", {"Eagle", "Bear", "Tiger", "None"})}},
       {"players",
        "player",
        "name",
        {person("name"), fk("team_id", "teams"),
         pool("position", {"Goalkeeper", "Defender", "Midfielder", "Forward"}),
         integer("age", 17, 40), integer("height_cm", 160, 205), integer("weight_kg", 55, 110),
         pool("nationality", kCountries), integer("salary", 50000, 5000000, 50000),
         integer("jersey_number", 1, 99), integer("goals", 0, 40), pool("foot", {"Left", "Right"}),
         date("contract_end", 2024, 2030)}},
       {"coaches",
        "coach",
        "name",
        {person("name"), fk("team_id", "teams"), integer("age", 30, 75),
         pool("nationality", kCountries), integer("experience_years", 1, 40),
         integer("salary", 80000, 3000000, 20000), date("hired_date", 2005, 2024),
         pool("role", {"Head", "Assistant", "Goalkeeping", "Fitness"}),
         integer("trophies", 0, 15)}},
       {"matches",
        "match",
        "",
        {fk("home_team_id", "teams"), fk("away_team_id", "teams"), fk("stadium_id", "stadiums"),
         date("match_date", 2018, 2024), integer("home_score", 0, 6), integer("away_score", 0, 6),
         integer("attendance", 1000, 90000, 500), integer("season", 2018, 2024),
         pool("competition", {"League", "Cup", "Friendly", "Playoff"}), person("referee")}},
       {"injuries",
        "injury",
        "",
        {fk("player_id", "players"),
         pool("injury_type", {"Hamstring", "Knee", "Ankle", "Shoulder", "Concussion"}),
         date("injury_date", 2018, 2024), integer("games_missed", 0, 30),
         pool("severity", {"Minor", "Moderate", "Severe"}), pool("surgery", kYesNo)}}}};
}

Domain aviation() {
  return {
      "aviation",
      {{"airlines",
        "airline",
        "name",
        {combo("name", {"Sky", "Blue", "Pacific", "Northern", "Royal", "Sun", "Atlantic"},
               {"Air", "Airways", "Airlines", "Jet"}),
         pool("country", kCountries), integer("founded_year", 1920, 2015),
         integer("fleet_size", 10, 900, 5),
         pool("alliance", {"Star Alliance", "Oneworld", "SkyTeam", "None"}),
         real("rating", 10, 50, 1), pool("hub_city", kCities), pool("low_cost", kYesNo),
         integer("destinations", 20, 350, 5)}},
       {"airports",
        "airport",
        "name",
        {combo("name", kCities, {"International", "Regional", "Central"}, " Airport"),
         pool("city", kCities), pool("country", kCountries), code("iata_code", "A", 100, 999),
         integer("elevation_m", 0, 2500, 10), integer("runways", 1, 6),
         integer("opened_year", 1920, 2020), integer("passengers_millions", 1, 110),
         pool("hub", kYesNo)}},
       {"aircraft",
        "aircraft",
        "model",
        {pool("model",
              {"Boeing 737", "Boeing 787", "Airbus A320", "Airbus A350", "Embraer E190", "ATR 72"}),
         fk("airline_id", "airlines"), integer("capacity", 70, 400, 10),
         integer("range_km", 1500, 15000, 100), integer("manufacture_year", 1995, 2023),
         pool("status", {"Active", "Maintenance", "Retired"}),
         code("registration", "N", 100, 999)}},
       {"flights",
        "flight",
        "flight_number",
        {code("flight_number", "FL", 100, 999), fk("airline_id", "airlines"),
         fk("origin_airport_id", "airports"), fk("destination_airport_id", "airports"),
         fk("aircraft_id", "aircraft"), date("departure_date", 2022, 2024),
         integer("duration_minutes", 45, 900, 5), integer("distance_km", 200, 12000, 50),
         real("base_fare", 4900, 150000, 2),
         pool("status", {"Scheduled", "Delayed", "Cancelled", "Landed"}),
         integer("delay_minutes", 0, 180, 5)}},
       {"passengers",
        "passenger",
        "name",
        {person("name"), integer("age", 1, 90), pool("nationality", kCountries),
         pool("gender", kGenders),
         pool("frequent_flyer_level", {"None", "Bronze", "Silver", "Gold", "Platinum"}),
         date("birth_date", 1935, 2022), pool("city", kCities), integer("miles", 0, 500000, 1000),
         pool("meal_preference", {"Standard", "Vegetarian", "Vegan", "Kosher"})}},
       {"bookings",
        "booking",
        "",
        {fk("passenger_id", "passengers"), fk("flight_id", "flights"),
         date("booking_date", 2021, 2024),
         pool("seat_class", {"Economy", "Premium", "Business", "First"}),
         real("price", 4900, 350000, 2), pool("status", {"Confirmed", "Cancelled", "Checked In"}),
         integer("checked_bags", 0, 3), pool("refundable", kYesNo)}},
       {"crew_members",
        "crew member",
        "name",
        {person("name"), fk("airline_id", "airlines"),
         pool("role", {"Pilot", "Co-pilot", "Flight Attendant", "Engineer"}),
         date("hire_date", 1995, 2024), integer("salary", 30000, 250000, 1000),
         integer("flight_hours", 100, 25000, 100), pool("base_city", kCities),
         integer("age", 21, 64),
         pool("languages", {"English", "English and French", "English and Spanish", "German"})}}}};
}

Domain library() {
  const Pool genres = {"Fiction", "Mystery", "Science",  "History",
                       "Poetry",  "Fantasy", "Biography"};
  return {
      "library",
      {{"authors",
        "author",
        "name",
        {person("name"), pool("nationality", kCountries), integer("birth_year", 1900, 1995),
         pool("genre", genres), integer("awards", 0, 12), pool("gender", kGenders),
         integer("books_published", 1, 60), pool("living", kYesNo), pool("agent", kCompanies)}},
       {"publishers",
        "publisher",
        "name",
        {combo("name", {"Penguin", "Harbor", "Beacon", "Maple", "Lantern", "Granite"},
               {"Press", "Books", "House"}),
         pool("city", kCities), pool("country", kCountries), integer("founded_year", 1800, 2015),
         integer("num_employees", 5, 3000, 5), pool("independent", kYesNo),
         integer("titles_per_year", 5, 500, 5)}},
       {"branches",
        "branch",
        "name",
        {combo("name", kCities, {"Central", "East", "West", "Riverside"}, " Branch"),
         pool("city", kCities), integer("opened_year", 1890, 2022), integer("num_staff", 2, 60),
         integer("size_sqm", 100, 6000, 50), pool("open_weekends", kYesNo),
         integer("computers", 0, 80, 2), person("librarian_name")}},
       {"books",
        "book",
        "title",
        {combo("title",
               {"The Silent", "The Golden", "A Hidden", "The Broken", "The Last", "A Distant"},
               kNouns),
         fk("author_id", "authors"), fk("publisher_id", "publishers"), fk("branch_id", "branches"),
         pool("genre", genres), integer("pages", 80, 1200, 4),
         integer("publication_year", 1950, 2024), real("price", 499, 6000, 2),
         pool("language", {"English", "Spanish", "French", "German"}), integer("copies", 1, 12),
         real("rating", 10, 50, 1), pool("format", {"Hardcover", "Paperback", "Ebook"})}},
       {"members",
        "member",
        "name",
        {person("name"), pool("city", kCities), date("join_date", 2005, 2024),
         integer("age", 8, 90), pool("membership_type", {"Basic", "Premium", "Student", "Senior"}),
         real("fines_due", 0, 5000, 2), pool("gender", kGenders), integer("books_borrowed", 0, 300),
         fk("home_branch_id", "branches")}},
       {"loans",
        "loan",
        "",
        {fk("book_id", "books"), fk("member_id", "members"), date("loan_date", 2020, 2024),
         date("due_date", 2020, 2024), integer("renewals", 0, 3), real("fine", 0, 2000, 2),
         pool("returned", kYesNo)}},
       {"reservations",
        "reservation",
        "",
        {fk("book_id", "books"), fk("member_id", "members"), date("reservation_date", 2020, 2024),
         pool("status", {"Waiting", "Ready", "Collected", "Expired"}),
         integer("queue_position", 1, 10), pool("notify_by", {"Email", "SMS", "Phone"})}}}};
}

Domain hospital() {
  return {
      "hospital",
      {{"wards",
        "ward",
        "name",
        {pool("name", {"Cardiology", "Oncology", "Pediatrics", "Neurology", "Orthopedics",
                       "Emergency", "Maternity", "Radiology"}),
         integer("floor", 0, 9), integer("beds", 6, 60, 2), person("head_nurse"),
         pool("wing", {"A", "B", "C", "D"}), integer("opened_year", 1960, 2022),
         pool("intensive_care", kYesNo)}},
       {"doctors",
        "doctor",
        "name",
        {person("name"), fk("ward_id", "wards"),
         pool("specialty",
              {"Cardiology", "Oncology", "Pediatrics", "Neurology", "Surgery", "General Practice"}),
         integer("years_experience", 1, 40), integer("salary", 90000, 450000, 5000),
         integer("age", 28, 70), pool("gender", kGenders), date("hire_date", 1990, 2024),
         real("rating", 10, 50, 1), pool("on_call", kYesNo), integer("patients_per_week", 5, 120)}},
       {"nurses",
        "nurse",
        "name",
        {person("name"), fk("ward_id", "wards"), pool("shift", {"Day", "Night", "Evening"}),
         date("hire_date", 1990, 2024), integer("salary", 40000, 120000, 1000),
         pool("certification", {"RN", "LPN", "NP", "CNA"}), integer("age", 22, 65),
         integer("overtime_hours", 0, 40)}},
       {"patients",
        "patient",
        "name",
        {person("name"), integer("age", 0, 95), pool("gender", kGenders), pool("city", kCities),
         pool("blood_type", {"A+", "A-", "B+", "O+", "O-", "AB+"}),
         date("admission_date", 2019, 2024),
         pool("insurance", {"Medicare", "Aetna", "Cigna", "BlueCross", "None"}),
         integer("weight_kg", 3, 130), integer("height_cm", 50, 200), pool("smoker", kYesNo),
         fk("ward_id", "wards")}},
       {"medications",
        "medication",
        "name",
        {pool("name", {"Aspirin", "Ibuprofen", "Amoxicillin", "Metformin", "Lisinopril",
                       "Atorvastatin", "Omeprazole", "Insulin"}),
         pool("manufacturer", {"Pfizer", "Novartis", "Bayer", "Roche", "Sanofi"}),
         real("price", 199, 25000, 2), integer("dosage_mg", 5, 1000, 5),
         pool("form", {"Tablet", "Capsule", "Syrup", "Injection"}), integer("stock", 0, 900, 10),
         pool("prescription_only", kYesNo)}},
       {"appointments",
        "appointment",
        "",
        {fk("patient_id", "patients"), fk("doctor_id", "doctors"),
         date("appointment_date", 2021, 2024), integer("duration_minutes", 10, 90, 5),
         pool("reason", {"Checkup", "Follow-up", "Consultation", "Surgery", "Vaccination"}),
         pool("status", {"Scheduled", "Completed", "Cancelled", "No Show"}),
         real("cost", 2000, 90000, 2)}},
       {"prescriptions",
        "prescription",
        "",
        {fk("patient_id", "patients"), fk("doctor_id", "doctors"),
         fk("medication_id", "medications"), date("prescribed_date", 2021, 2024),
         integer("quantity", 5, 90, 5), integer("refills", 0, 5), integer("days", 3, 90)}}}};
}

Domain music() {
  const Pool genres = {"Rock", "Pop", "Jazz", "Hip Hop", "Classical", "Electronic", "Folk"};
  return {"music",
          {{"record_labels",
            "record label",
            "name",
            {combo("name", {"Sunset", "Echo", "Velvet", "Atlas", "Neon"},
                   {"Records", "Music", "Sound"}),
             pool("country", kCountries), integer("founded_year", 1940, 2020),
             integer("num_artists", 3, 300), pool("city", kCities), pool("independent", kYesNo)}},
           {"artists",
            "artist",
            "name",
            {combo("name", {"The", "Electric", "Midnight", "Velvet", "Young"},
                   {"Owls", "Tigers", "Echoes", "Foxes", "Pilots", "Strangers", "Rivers"}),
             pool("country", kCountries), pool("genre", genres), integer("formed_year", 1960, 2022),
             fk("record_label_id", "record_labels"), integer("members", 1, 7),
             integer("followers", 1000, 9000000, 1000), integer("grammy_awards", 0, 10),
             pool("active", kYesNo)}},
           {"albums",
            "album",
            "title",
            {combo("title", kAdjectives, kNouns), fk("artist_id", "artists"),
             date("release_date", 1970, 2024), pool("genre", genres), integer("num_tracks", 6, 20),
             real("price", 499, 2999, 2), integer("sales", 1000, 5000000, 1000),
             real("rating", 10, 50, 1), pool("format", {"CD", "Vinyl", "Digital"}),
             integer("length_minutes", 25, 80)}},
           {"songs",
            "song",
            "title",
            {combo("title", kAdjectives,
                   {"Heart", "Night", "Dream", "Fire", "Rain", "Love", "Light", "Song"}),
             fk("album_id", "albums"), integer("duration_seconds", 120, 420, 5),
             integer("plays", 100, 900000, 100), integer("track_number", 1, 20),
             pool("explicit", kYesNo), integer("bpm", 60, 180), real("rating", 10, 50, 1),
             pool("language", {"English", "Spanish", "French", "Korean"})}},
           {"playlists",
            "playlist",
            "name",
            {combo("name", {"Morning", "Workout", "Chill", "Road Trip", "Focus", "Party"},
                   {"Mix", "Hits", "Vibes", "Classics"}),
             person("owner_name"), date("created_date", 2012, 2024),
             integer("followers", 0, 500000, 50), pool("public", kYesNo),
             integer("num_songs", 5, 200)}},
           {"playlist_songs",
            "playlist song",
            "",
            {fk("playlist_id", "playlists"), fk("song_id", "songs"), integer("position", 1, 50),
             date("added_date", 2012, 2024)}},
           {"venues",
            "venue",
            "name",
            {combo("name", {"Grand", "Royal", "Blue", "Electric", "Paradise"},
                   {"Hall", "Theater", "Arena", "Club"}),
             pool("city", kCities), integer("capacity", 200, 60000, 100),
             integer("opened_year", 1900, 2022),
             pool("venue_type", {"Arena", "Club", "Theater", "Stadium", "Open Air"}),
             pool("outdoor", kYesNo)}},
           {"concerts",
            "concert",
            "",
            {fk("artist_id", "artists"), fk("venue_id", "venues"), date("concert_date", 2015, 2024),
             real("ticket_price", 1500, 30000, 2), integer("attendance", 100, 60000, 100),
             integer("duration_minutes", 60, 200, 10), pool("sold_out", kYesNo),
             pool("tour", {"World Tour", "Summer Tour", "Reunion Tour", "Single Show"})}}}};
}

Domain cinema() {
  return {
      "cinema",
      {{"studios",
        "studio",
        "name",
        {combo("name", {"Paramount", "Silver", "Lion", "Horizon", "Starlight"},
               {"Pictures", "Studios", "Films"}),
         pool("country", kCountries), integer("founded_year", 1910, 2015),
         integer("annual_budget", 5000000, 900000000, 5000000), person("ceo_name"),
         pool("city", kCities)}},
       {"directors",
        "director",
        "name",
        {person("name"), pool("nationality", kCountries), integer("birth_year", 1935, 1995),
         integer("oscars", 0, 4), integer("films_directed", 1, 40), pool("gender", kGenders)}},
       {"movies",
        "movie",
        "title",
        {combo("title", {"The Silent", "Return of the", "Beyond the", "Night of the", "The Last"},
               kNouns),
         fk("studio_id", "studios"), fk("director_id", "directors"),
         integer("release_year", 1970, 2024),
         pool("genre", {"Drama", "Comedy", "Action", "Horror", "Animation", "Documentary"}),
         integer("runtime_minutes", 75, 200), integer("budget_millions", 1, 300),
         integer("box_office_millions", 0, 2000), real("imdb_rating", 30, 95, 1),
         pool("rating_code", {"G", "PG", "PG-13", "R"}),
         pool("language", {"English", "French", "Spanish", "Japanese"})}},
       {"actors",
        "actor",
        "name",
        {person("name"), pool("nationality", kCountries), integer("birth_year", 1940, 2005),
         pool("gender", kGenders), integer("awards", 0, 10), pool("agency", kCompanies),
         integer("height_cm", 150, 200)}},
       {"castings",
        "casting",
        "",
        {fk("movie_id", "movies"), fk("actor_id", "actors"),
         pool("role_type", {"Lead", "Supporting", "Cameo", "Voice"}),
         integer("fee_thousands", 10, 20000, 10), integer("screen_minutes", 1, 150)}},
       {"cinemas",
        "cinema",
        "name",
        {combo("name", kCities, {"Odeon", "Plaza", "Roxy", "Palace"}), pool("city", kCities),
         integer("screens", 1, 20), integer("seats", 80, 3000, 20),
         integer("opened_year", 1920, 2022), pool("imax", kYesNo)}},
       {"screenings",
        "screening",
        "",
        {fk("movie_id", "movies"), fk("cinema_id", "cinemas"), date("screening_date", 2022, 2024),
         real("ticket_price", 500, 2500, 2), integer("tickets_sold", 0, 400),
         pool("format", {"2D", "3D", "IMAX"})}}}};
}

Domain banking() {
  return {
      "banking",
      {{"branches",
        "branch",
        "name",
        {combo("name", kCities, {"Main", "Downtown", "Harbor", "Uptown"}, " Branch"),
         pool("city", kCities), integer("opened_year", 1950, 2022), integer("staff_count", 3, 80),
         person("manager_name"), real("assets_millions", 100, 900000, 2), pool("has_atm", kYesNo)}},
       {"customers",
        "customer",
        "name",
        {person("name"), pool("city", kCities), integer("age", 18, 90), pool("gender", kGenders),
         integer("credit_score", 300, 850), date("customer_since", 1995, 2024),
         fk("branch_id", "branches"), integer("annual_income", 10000, 400000, 1000),
         pool("occupation",
              {"Teacher", "Engineer", "Nurse", "Retired", "Student", "Lawyer", "Farmer"}),
         pool("segment", {"Retail", "Premier", "Private", "Business"})}},
       {"accounts",
        "account",
        "account_number",
        {code("account_number", "AC", 10000, 99999), fk("customer_id", "customers"),
         pool("account_type", {"Checking", "Savings", "Business", "Student"}),
         real("balance", 0, 50000000, 2), date("opened_date", 2000, 2024),
         real("interest_rate", 0, 500, 2), pool("status", {"Open", "Frozen", "Closed"}),
         pool("currency", {"USD", "EUR", "GBP", "JPY"})}},
       {"transactions",
        "transaction",
        "",
        {fk("account_id", "accounts"), date("transaction_date", 2022, 2024),
         real("amount", 100, 2000000, 2),
         pool("transaction_type", {"Deposit", "Withdrawal", "Transfer", "Payment", "Fee"}),
         pool("channel", {"ATM", "Online", "Branch", "Mobile"}), pool("flagged", kYesNo)}},
       {"loans",
        "loan",
        "",
        {fk("customer_id", "customers"), fk("branch_id", "branches"),
         pool("loan_type", {"Mortgage", "Auto", "Personal", "Student", "Business"}),
         integer("principal", 1000, 900000, 1000), real("interest_rate", 100, 1500, 2),
         integer("term_months", 12, 360, 12), date("start_date", 2010, 2024),
         pool("status", {"Current", "Late", "Paid Off", "Default"})}},
       {"cards",
        "card",
        "",
        {fk("account_id", "accounts"), pool("card_type", {"Debit", "Credit", "Prepaid"}),
         pool("network", {"Visa", "Mastercard", "Amex"}), date("expiry_date", 2024, 2030),
         integer("credit_limit", 0, 50000, 500), pool("contactless", kYesNo)}}}};
}

}  // namespace

const std::vector<ColumnSpec>& admin_columns() {
  static const std::vector<ColumnSpec> all = [] {
    std::vector<ColumnSpec> columns = {
        date("created_date", 2015, 2024),
        date("updated_date", 2020, 2024),
        pool("record_source", {"Web", "Import", "Manual", "API"}),
        integer("version", 1, 9),
        pool("notes", {"None", "Urgent", "Reviewed", "Needs follow-up", "Verified"}),
        pool("archived", kYesNo),
        code("external_code", "EXT", 1000, 9999),
    };
    for (ColumnSpec& c : columns) c.admin = true;
    return columns;
  }();
  return all;
}

const std::vector<Domain>& domains() {
  static const std::vector<Domain> all = {company(), retail(),   school(), sports(), aviation(),
                                          library(), hospital(), music(),  cinema(), banking()};
  return all;
}

}  // namespace llmtune::data::synthetic
