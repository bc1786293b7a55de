"""Stripe's official Python library against the emulator: it creates and reads every billing
object the emulator serves (prices, Checkout in subscription mode, subscriptions, invoices, saved
cards, portal sessions, events) and verifies the emulator's webhook signatures with its own
`stripe.Webhook.construct_event`. Pays on the hosted pages with plain form posts, as a browser
without JavaScript would. Exits non-zero on the first failed check.

Usage: python3 official_client.py EMULATOR_BASE_URL WEBHOOK_PORT WEBHOOK_SECRET
(run by .ci/stripe-python, which starts the emulator delivering to WEBHOOK_PORT).
"""

import http.server
import sys
import threading
import time
import urllib.parse
import urllib.request

import stripe

BASE, PORT, SECRET = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stripe.api_key = "sk_test_official_client"
stripe.api_base = BASE
stripe.max_network_retries = 0

verified, refused = [], []


class Receiver(http.server.BaseHTTPRequestHandler):
    """Verifies each delivery with the library, as an app's webhook route would."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            event = stripe.Webhook.construct_event(body, self.headers["Stripe-Signature"], SECRET)
            verified.append(event["type"])
            self.send_response(200)
        except stripe.SignatureVerificationError:
            refused.append(body)
            self.send_response(400)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def form_post(url, fields):
    """Posts a form without following the redirect; answers the status."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    data = urllib.parse.urlencode(fields).encode()
    try:
        return urllib.request.build_opener(NoRedirect).open(url, data).status
    except urllib.error.HTTPError as e:
        return e.code


def advance(seconds):
    form_post(f"{BASE}/_emulator/clock/advance", {"seconds": seconds})


CARD = {"card_expiry": "12 / 34", "card_cvc": "123"}

monthly = stripe.Price.create(
    currency="usd",
    unit_amount=14900,
    recurring={"interval": "month"},
    product_data={"name": "Website Maintenance"},
)
check(monthly.type == "recurring" and monthly.recurring.interval == "month", "a recurring price")
setup = stripe.Price.create(currency="usd", unit_amount=50000, product_data={"name": "Logo Design"})
listed = stripe.Price.list(type="recurring")
check([p.id for p in listed.data] == [monthly.id], "prices listed by type")

session = stripe.checkout.Session.create(
    mode="subscription",
    success_url="http://shop.test/thanks?session={CHECKOUT_SESSION_ID}",
    line_items=[{"price": monthly.id, "quantity": 2}, {"price": setup.id, "quantity": 1}],
    subscription_data={"metadata": {"order": "42"}},
)
check(session.mode == "subscription" and session.amount_total == 79800, "a subscription session")
status = form_post(session.url, {"action": "pay", "email": "client@example.com", "card_number": "4242424242424242", **CARD})
check(status == 303, "paid on the hosted page")

session = stripe.checkout.Session.retrieve(session.id, expand=["subscription", "invoice"])
sub = session.subscription
check(session.status == "complete" and sub.status == "active", "the session made an active subscription")
check(sub["items"].data[0].quantity == 2 and sub.metadata["order"] == "42", "its item and metadata")
check(session.invoice.amount_paid == 79800 and session.invoice.status == "paid", "its first invoice, paid")
card = stripe.PaymentMethod.retrieve(sub.default_payment_method)
check(card.card.last4 == "4242" and card.card.brand == "visa", "its saved card")

portal = stripe.billing_portal.Session.create(customer=sub.customer, return_url="http://shop.test/account")
check(portal.url.startswith(BASE), "a portal session")
status = form_post(portal.url, {"action": "update_card", "card_number": "4000000000000341", **CARD})
check(status == 200, "a card that fails later, saved in the portal")

advance(31 * 86400)
sub = stripe.Subscription.retrieve(sub.id)
check(sub.status == "past_due", "a failed renewal makes it past due")
open_invoice = stripe.Invoice.list(subscription=sub.id, status="open").data[0]
check(open_invoice.attempt_count == 1 and open_invoice.hosted_invoice_url, "its open invoice")
try:
    stripe.Invoice.pay(open_invoice.id)
    check(False, "paying with the failing card is declined")
except stripe.CardError as e:
    check(e.code == "card_declined", "paying with the failing card is declined")
status = form_post(open_invoice.hosted_invoice_url, {"card_number": "4242424242424242", **CARD})
check(status == 303, "paid on the invoice page")
check(stripe.Subscription.retrieve(sub.id).status == "active", "active again")
pdf = urllib.request.urlopen(open_invoice.invoice_pdf).read()
check(pdf.startswith(b"%PDF-"), "the invoice's PDF")

item = sub["items"].data[0]
sub = stripe.Subscription.modify(
    sub.id, items=[{"id": item.id, "quantity": 3}], proration_behavior="none", cancel_at_period_end=True
)
check(sub.cancel_at_period_end and sub["items"].data[0].quantity == 3, "quantity and cancel at period end")
sub = stripe.Subscription.modify(sub.id, cancel_at_period_end=False)
check(not sub.cancel_at_period_end, "resumed")
advance(31 * 86400)
invoices = stripe.Invoice.list(subscription=sub.id).data
check(len(invoices) == 3 and invoices[0].amount_paid == 3 * 14900, "the next invoice bills the new quantity")
check(len(stripe.Subscription.list(customer=sub.customer).data) == 1, "subscriptions listed")
sub = stripe.Subscription.cancel(sub.id)
check(sub.status == "canceled", "cancelled now")

kinds = {e.type for e in stripe.Event.list(limit=100).auto_paging_iter()}
for kind in ["customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
             "invoice.paid", "invoice.payment_failed", "checkout.session.completed"]:
    check(kind in kinds, f"event {kind}")
for _ in range(100):
    if "customer.subscription.deleted" in verified:
        break
    time.sleep(0.05)
check("customer.subscription.deleted" in verified and not refused,
      f"{len(verified)} deliveries verified by stripe.Webhook, none refused")
