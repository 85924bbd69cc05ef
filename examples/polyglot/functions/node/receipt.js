// FormatReceipt: a guest's receipt for a taxed amount, as a Lambda handler in Node.js.
// flowctl runs it locally through AWS's runtime interface client (aws-lambda-ric) and deploys
// it on Lambda's nodejs22.x runtime; the same file either way.

const money = (amount, currency) => `${amount.toFixed(2)} ${currency}`;

exports.handler = async (event) => {
  const { guest, currency, net, vat, gross } = event;
  if (!guest) {
    const error = new Error("a receipt needs the guest's name");
    error.name = "MissingGuest";
    throw error;
  }
  return {
    guest,
    lines: [`net ${money(net, currency)}`, `VAT ${money(vat, currency)}`, `total ${money(gross, currency)}`],
    text: `Dear ${guest}, your night costs ${money(gross, currency)}, VAT included.`,
  };
};
