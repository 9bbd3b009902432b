/** Word lists and the activity catalog the synthetic workspace draws from. */

export const companyPrefixes = [
  "Acme",
  "Blue Harbor",
  "Northwind",
  "Crescent",
  "Ironwood",
  "Summit",
  "Bright Path",
  "Cobalt",
  "Evergreen",
  "Falcon",
  "Granite",
  "Helix",
  "Juniper",
  "Keystone",
  "Lumen",
  "Maple",
  "Nimbus",
  "Orbit",
  "Pioneer",
  "Quartz",
  "Redwood",
  "Silverline",
  "Tidal",
  "Umbra",
  "Vertex",
  "Willow",
  "Zephyr",
  "Atlas",
  "Beacon",
  "Cedar",
] as const;

export const companySuffixes = [
  "Labs",
  "Systems",
  "Health",
  "Logistics",
  "Analytics",
  "Foods",
  "Energy",
  "Capital",
  "Media",
  "Robotics",
  "Retail",
  "Software",
  "Partners",
  "Bio",
  "Works",
] as const;

export const industries = [
  ["software", 30],
  ["financial services", 14],
  ["healthcare", 12],
  ["retail", 12],
  ["manufacturing", 10],
  ["education", 8],
  ["media", 7],
  ["logistics", 7],
] as const;

export const regions = [
  ["na", 45],
  ["emea", 30],
  ["apac", 18],
  ["latam", 7],
] as const;

export const integrationNames = [
  "salesforce",
  "hubspot",
  "slack",
  "snowflake",
  "zendesk",
  "segment",
] as const;

export const firstNames = [
  "Ada",
  "Amir",
  "Ana",
  "Ben",
  "Carla",
  "Chen",
  "Dana",
  "David",
  "Elena",
  "Emeka",
  "Fatima",
  "Felix",
  "Grace",
  "Hana",
  "Ivan",
  "Jonas",
  "Julia",
  "Kenji",
  "Lena",
  "Liam",
  "Maya",
  "Mateo",
  "Nadia",
  "Noah",
  "Olga",
  "Omar",
  "Priya",
  "Rafael",
  "Sara",
  "Sofia",
  "Tariq",
  "Uma",
  "Victor",
  "Wei",
  "Yara",
  "Zoe",
] as const;

export const lastNames = [
  "Adeyemi",
  "Berg",
  "Costa",
  "Dubois",
  "Eriksen",
  "Fischer",
  "Garcia",
  "Hoang",
  "Ibrahim",
  "Jensen",
  "Kowalski",
  "Lopez",
  "Muller",
  "Nakamura",
  "Okafor",
  "Patel",
  "Quinn",
  "Rossi",
  "Schmidt",
  "Tanaka",
  "Usman",
  "Varga",
  "Wong",
  "Yilmaz",
  "Zhang",
] as const;

export const departments = [
  ["sales", 20],
  ["customer success", 18],
  ["marketing", 15],
  ["operations", 14],
  ["finance", 10],
  ["engineering", 15],
  ["executive", 4],
] as const;

/** An action a user may take, the module it belongs to (null: none) and its usual per-day count. */
export interface ActivityKind {
  activity: string;
  module: string | null;
  weight: number;
  maxCount: number;
}

/** Logging in is every active day's usual first event; these are what users do next. */
export const login: ActivityKind = { activity: "login", module: null, weight: 0, maxCount: 3 };

export const userActivities: readonly ActivityKind[] = [
  { activity: "view_report", module: "reports", weight: 30, maxCount: 12 },
  { activity: "view_dashboard", module: "dashboards", weight: 30, maxCount: 15 },
  { activity: "search", module: null, weight: 10, maxCount: 6 },
  { activity: "create_report", module: "reports", weight: 8, maxCount: 2 },
  { activity: "export", module: "reports", weight: 6, maxCount: 3 },
  { activity: "create_dashboard", module: "dashboards", weight: 5, maxCount: 2 },
  { activity: "export", module: "dashboards", weight: 3, maxCount: 2 },
  { activity: "update_settings", module: "admin", weight: 3, maxCount: 1 },
  { activity: "invite_user", module: "admin", weight: 2, maxCount: 3 },
  { activity: "connect_integration", module: "integrations", weight: 2, maxCount: 1 },
];

/** Activity an account generates on its own (user_id null): API traffic and syncs of its integrations. */
export const accountActivities = {
  apiCall: { activity: "api_call", module: "integrations", weight: 0, maxCount: 2000 },
  sync: { activity: "sync", module: "integrations", weight: 0, maxCount: 24 },
  billingUpdated: { activity: "billing_updated", module: "admin", weight: 0, maxCount: 1 },
} as const satisfies Record<string, ActivityKind>;
