//! Static reference data: the shipping sites, the receivers the seeded shipments go to, and the
//! small "USPS directory" the UPS address validation answers from. Both simulators read it, so
//! what IFS holds and what UPS validates agree.

/// A shipping site (IFS `Contract`) of the apparel maker.
pub(crate) struct Site {
    pub(crate) contract: &'static str,
    pub(crate) company: &'static str,
    pub(crate) cost_center: &'static str,
    pub(crate) name: &'static str,
    pub(crate) line1: &'static str,
    pub(crate) zip: &'static str,
    pub(crate) city: &'static str,
    pub(crate) state: &'static str,
    pub(crate) country: &'static str,
    pub(crate) phone: &'static str,
    /// Default weight / length units of the site's handling units.
    pub(crate) weight_uom: &'static str,
    pub(crate) length_uom: &'static str,
    pub(crate) currency: &'static str,
}

pub(crate) static SITES: [Site; 2] = [
    Site {
        contract: "ATL1",
        company: "MLUS",
        cost_center: "4100",
        name: "ML Apparel Inc.",
        line1: "1200 Fulton Industrial Blvd SW",
        zip: "30336",
        city: "Atlanta",
        state: "GA",
        country: "US",
        phone: "4045550100",
        weight_uom: "LBS",
        length_uom: "IN",
        currency: "USD",
    },
    Site {
        contract: "VNL1",
        company: "MLEU",
        cost_center: "4200",
        name: "ML Apparel Europe B.V.",
        line1: "Celsiusweg 20",
        zip: "5928 PR",
        city: "Venlo",
        state: "",
        country: "NL",
        phone: "+31775550100",
        weight_uom: "KGS",
        length_uom: "CM",
        currency: "EUR",
    },
];

/// A customer's delivery address.
pub(crate) struct Receiver {
    pub(crate) customer_no: &'static str,
    pub(crate) name: &'static str,
    pub(crate) contact: &'static str,
    pub(crate) line1: &'static str,
    pub(crate) line2: &'static str,
    pub(crate) zip: &'static str,
    pub(crate) city: &'static str,
    pub(crate) state: &'static str,
    pub(crate) country: &'static str,
    pub(crate) phone: &'static str,
}

macro_rules! rcv {
    ($no:expr, $name:expr, $contact:expr, $l1:expr, $l2:expr, $zip:expr, $city:expr, $st:expr, $c:expr, $ph:expr) => {
        Receiver {
            customer_no: $no,
            name: $name,
            contact: $contact,
            line1: $l1,
            line2: $l2,
            zip: $zip,
            city: $city,
            state: $st,
            country: $c,
            phone: $ph,
        }
    };
}

/// Receivers of the US site (US and Canada).
pub(crate) static US_RECEIVERS: &[Receiver] = &[
    rcv!(
        "100101",
        "Hudson Street Outfitters",
        "Maria Lopez",
        "425 Hudson St",
        "",
        "10014",
        "New York",
        "NY",
        "US",
        "2125550141"
    ),
    rcv!(
        "100102",
        "Golden Gate Threads",
        "Kevin Chan",
        "1 Ferry Building",
        "Ste 42",
        "94111",
        "San Francisco",
        "CA",
        "US",
        "4155550142"
    ),
    rcv!(
        "100103",
        "Peachtree Apparel Co",
        "Dana Brooks",
        "3393 Peachtree Rd NE",
        "",
        "30326",
        "Atlanta",
        "GA",
        "US",
        "4045550143"
    ),
    rcv!(
        "100104",
        "Lone Star Denim",
        "Luis Ortega",
        "2401 S Lamar Blvd",
        "",
        "78704",
        "Austin",
        "TX",
        "US",
        "5125550144"
    ),
    rcv!(
        "100105",
        "Windy City Wear",
        "Sam Novak",
        "835 N Michigan Ave",
        "",
        "60611",
        "Chicago",
        "IL",
        "US",
        "3125550145"
    ),
    rcv!(
        "100106",
        "Emerald Basics",
        "Priya Nair",
        "1520 5th Ave",
        "",
        "98101",
        "Seattle",
        "WA",
        "US",
        "2065550146"
    ),
    rcv!(
        "100107",
        "Sunset Boulevard Boutique",
        "Ava Reed",
        "8500 Sunset Blvd",
        "",
        "90069",
        "West Hollywood",
        "CA",
        "US",
        "3105550147"
    ),
    rcv!(
        "100108",
        "Harbor Point Goods",
        "Tom Walsh",
        "100 E Pratt St",
        "",
        "21202",
        "Baltimore",
        "MD",
        "US",
        "4105550148"
    ),
    rcv!(
        "100109",
        "Mile High Mercantile",
        "Nina Park",
        "1600 Champa St",
        "",
        "80202",
        "Denver",
        "CO",
        "US",
        "3035550149"
    ),
    rcv!(
        "100110",
        "Jane Alvarez",
        "Jane Alvarez",
        "88 Elm St",
        "Apt 4B",
        "02139",
        "Cambridge",
        "MA",
        "US",
        "6175550150"
    ),
    rcv!(
        "100111",
        "Maple Leaf Apparel",
        "Owen Tremblay",
        "220 Yonge St",
        "",
        "M5B 2H1",
        "Toronto",
        "ON",
        "CA",
        "4165550151"
    ),
    rcv!(
        "100112",
        "Pacific Coast Clothing",
        "Grace Liu",
        "701 W Georgia St",
        "",
        "V7Y 1G5",
        "Vancouver",
        "BC",
        "CA",
        "6045550152"
    ),
];

/// Receivers of the European site.
pub(crate) static EU_RECEIVERS: &[Receiver] = &[
    rcv!(
        "200201",
        "Modehaus Berlin GmbH",
        "Jonas Weber",
        "Kurfuerstendamm 21",
        "",
        "10719",
        "Berlin",
        "",
        "DE",
        "+49305550201"
    ),
    rcv!(
        "200202",
        "Textil Kontor Muenchen",
        "Lena Huber",
        "Kaufingerstrasse 15",
        "",
        "80331",
        "Muenchen",
        "",
        "DE",
        "+49895550202"
    ),
    rcv!(
        "200203",
        "Carnaby Street Clothing Ltd",
        "Oliver Smith",
        "12 Carnaby St",
        "",
        "W1F 9PS",
        "London",
        "",
        "GB",
        "+442075550203"
    ),
    rcv!(
        "200204",
        "Northern Quarter Threads",
        "Amelia Jones",
        "45 Oldham St",
        "",
        "M1 1JG",
        "Manchester",
        "",
        "GB",
        "+441615550204"
    ),
    rcv!(
        "200205",
        "Boutique Rivoli",
        "Camille Martin",
        "75 Rue de Rivoli",
        "",
        "75001",
        "Paris",
        "",
        "FR",
        "+33155550205"
    ),
    rcv!(
        "200206",
        "Atelier Lyonnais",
        "Hugo Bernard",
        "10 Rue de la Republique",
        "",
        "69002",
        "Lyon",
        "",
        "FR",
        "+33475550206"
    ),
    rcv!(
        "200207",
        "Jordaan Mode B.V.",
        "Sanne de Vries",
        "Prinsengracht 226",
        "",
        "1016 HD",
        "Amsterdam",
        "",
        "NL",
        "+31205550207"
    ),
    rcv!(
        "200208",
        "Rotterdam Kledingshop",
        "Daan Bakker",
        "Lijnbaan 10",
        "",
        "3012 EL",
        "Rotterdam",
        "",
        "NL",
        "+31105550208"
    ),
    rcv!(
        "200209",
        "Meir Fashion NV",
        "Lotte Peeters",
        "Meir 78",
        "",
        "2000",
        "Antwerpen",
        "",
        "BE",
        "+3235550209"
    ),
    rcv!(
        "200210",
        "Moda Milano Srl",
        "Giulia Rossi",
        "Via Montenapoleone 8",
        "",
        "20121",
        "Milano",
        "",
        "IT",
        "+39025550210"
    ),
];

/// Seeded "ambiguous" addresses: the receiver's city and state exist but the ZIP is wrong.
/// (receiver index in `US_RECEIVERS`, wrong ZIP). The right ZIP is the receiver's own.
pub(crate) static AMBIGUOUS_ZIPS: &[(usize, &str)] =
    &[(0, "10099"), (3, "78799"), (5, "98199"), (8, "80299")];

/// Seeded "no candidates" addresses: a misspelt city that no directory entry knows.
pub(crate) static UNKNOWN_CITIES: &[(usize, &str, &str)] = &[
    (4, "Chicgo", "60699"),
    (2, "Atlantaa", "30399"),
    (7, "Baltimroe", "21299"),
];

/// The US address directory UPS address validation answers from:
/// (city, state, valid ZIP codes, ZIP+4 extension used in candidates).
pub(crate) static US_DIRECTORY: &[(&str, &str, &[&str], &str)] = &[
    ("NEW YORK", "NY", &["10014", "10001", "10011"], "2801"),
    ("SAN FRANCISCO", "CA", &["94111", "94105"], "3911"),
    ("ATLANTA", "GA", &["30326", "30336", "30303"], "1412"),
    ("AUSTIN", "TX", &["78704", "78701"], "5714"),
    ("CHICAGO", "IL", &["60611", "60601"], "3302"),
    ("SEATTLE", "WA", &["98101", "98104"], "1408"),
    ("WEST HOLLYWOOD", "CA", &["90069"], "4209"),
    ("BALTIMORE", "MD", &["21202", "21201"], "3117"),
    ("DENVER", "CO", &["80202", "80203"], "1305"),
    ("CAMBRIDGE", "MA", &["02139", "02138"], "4307"),
    ("TIMONIUM", "MD", &["21093"], "5402"),
];

/// An apparel article on shipment lines.
pub(crate) static PARTS: &[(&str, &str)] = &[
    ("TS-ORG-M-BLK", "Organic cotton T-shirt, M, black"),
    ("HD-FLC-L-GRY", "Fleece hoodie, L, grey"),
    ("JN-SLM-32-IND", "Slim jeans, W32, indigo"),
    ("JK-RAIN-M-NAV", "Rain jacket, M, navy"),
    ("SK-MER-3PK", "Merino socks, 3-pack"),
    ("DR-LIN-S-WHT", "Linen dress, S, white"),
    ("PL-PIQ-XL-RED", "Pique polo, XL, red"),
];

/// Handling-unit (carton) types: id, metric dims (L, W, H in cm), imperial dims (in).
pub(crate) static CARTONS: &[(&str, [f64; 3], [f64; 3])] = &[
    ("CARTON-S", [40.0, 30.0, 20.0], [16.0, 12.0, 8.0]),
    ("CARTON-M", [60.0, 40.0, 40.0], [24.0, 16.0, 16.0]),
    ("CARTON-L", [80.0, 60.0, 40.0], [31.0, 24.0, 16.0]),
];
