"""AddTax: the VAT on a net amount for a country, as a Lambda handler in Python.

flowctl runs it locally through AWS's runtime interface client (awslambdaric) and deploys it
on Lambda's python3.12 runtime; the same file either way.
"""

RATES = {"DE": 0.19, "ES": 0.21, "FR": 0.20, "IE": 0.23}


class UnknownCountry(Exception):
    """A country without a rate. Lambda names the error after the class (`errorType`), which
    is what a flow's `catch` and `retry` match."""


def handler(event, context):
    country = event.get("country")
    if country not in RATES:
        raise UnknownCountry(f"no VAT rate for {country!r}; known: {', '.join(sorted(RATES))}")
    net = round(float(event["amount"]), 2)
    rate = RATES[country]
    vat = round(net * rate, 2)
    return {"country": country, "net": net, "rate": rate, "vat": vat, "gross": round(net + vat, 2)}
