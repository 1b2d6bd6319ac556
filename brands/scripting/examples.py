"""Ready-to-run console examples, after the product documentation's own snippets
(docs/contract.md quotes the rules they follow).

They are adapted where the documentation's snippet would not run as printed: its e-mail example
builds a key containing "@", which the key rule refuses, so the example keeps the allowed
characters only; and TTLs above the one-hour maximum are kept so that the console shows the
clamping warning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    slug: str
    title: str
    description: str
    code: str


EXAMPLES = [
    Example(
        slug="page-views",
        title="Page-view counter",
        description="Atomically count views and hand the count to the page (cache.increment).",
        code="""\
// Count a page view. increment creates the key on first use.
var views = cache.increment('page:home:views', 1, 86400);
setVariable('view_count', views);

// Read it back the way a page template would.
var count = cache.get('page:home:views');
if (count !== null) {
  setVariable('views', count);
}
views
""",
    ),
    Example(
        slug="email-dedup",
        title="Send an e-mail only once",
        description="Deduplicate with setIfAbsent: only the first run for an address gets true.",
        code="""\
var email = 'ada@example.com';
// '@' is not allowed in keys: keep the allowed characters only.
var key = 'email_sent:' + email.replace(/[^a-zA-Z0-9_.:-]/g, '_');

var isNew = cache.setIfAbsent(key, true, 3600);
if (isNew) {
  console.log('First time: send the welcome e-mail to ' + email);
} else {
  console.info('Already sent to ' + email + ' within the hour');
}
setVariable('send_email', isNew);
isNew
""",
    ),
    Example(
        slug="onboarding",
        title="Onboarding check",
        description="Send finished users to the dashboard with has() and redirect().",
        code="""\
if (cache.has('onboarding_complete')) {
  redirect('/dashboard');
} else {
  cache.set('last_visit', new Date().toISOString(), 3600);
  redirect('/onboarding');
  // Run again after marking onboarding as done:
  // cache.set('onboarding_complete', true);
}
""",
    ),
]

EXAMPLES_BY_SLUG = {example.slug: example for example in EXAMPLES}
