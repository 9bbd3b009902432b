// A product's page: Segment's browser library (analytics.js, as npm's @segment/analytics-next),
// loaded by the test with signaltag as its API host.
import { AnalyticsBrowser } from "@segment/analytics-next";

// Every request of the page with its answer, or the error the page got instead (a response
// without CORS headers is one: the page cannot read it, and the library sends again).
const sent = [];
const fetchOf = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const url = String(input);
  try {
    const res = await fetchOf(input, init);
    sent.push({ url, status: res.status, body: await res.clone().text() });
    return res;
  } catch (err) {
    sent.push({ url, error: String(err) });
    throw err;
  }
};

window.tracking = { AnalyticsBrowser, sent };
