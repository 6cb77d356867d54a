"""The golden purchases of the analysis tests, and every answer worked out by hand.

as_of is 2026-11-28 12:00 UTC, so the hour is [11:00, 12:00). Amounts are per unit:
(product, count, price, discount); a line is worth count x (price - discount).

order user time (UTC)               payment         lines                          total
o01   u01  11-28 11:00:00.000000  CreditCard      pA 2x(10.00-1.00)               18.00  first instant of the hour: in
o02   u01  11-28 11:30:00         Paypal          pA 1x10.00, pB 3x(5.00-0.50)    23.50  sent twice (a retry): one order
o03   u02  11-28 10:59:59.999999  CreditCard      pB 1x5.00, pB 2x5.00            15.00  pB twice in one order; just before the hour
o04   u02  11-28 11:59:59.999999  CashOnDelivery  pC 4x2.50                       10.00  last instant of the hour: in
o05   u03  11-28 12:00:00         CreditCard      pD 1x20.00                      20.00  = as_of: out
o06   u03  11-28 11:10:00         CreditCard      pB 1x5.00, pC 1x2.50             7.50  its row twice in the lake
o07   u01  11-27 09:00:00         CreditCard      pB 1x(5.00-0.50)                 4.50  the day before (dt=2026-11-27)
o08   u04  11-28 11:20:00         Paypal          pC 2x(2.50-0.25)                 4.50
o09   u05  11-28 11:40:00         GiftCard        pE 3x4.00                       12.00  u05's best: ties o11, o09 < o11
o10   u06  11-28 11:41:00         BankTransfer    pE 3x4.00                       12.00  ties u05: u05 ranks first
o11   u05  11-28 11:45:00         CreditCard      pF 1x12.00                      12.00
o12   u07  11-28 11:05:00         CreditCard      pF 1x3.00                        3.00
o13   u08  11-28 11:06:00         CreditCard      pF 1x2.00                        2.00
o14   u09  11-28 11:07:00         Paypal          pF 1x1.00                        1.00
o15   u10  11-28 11:08:00         DebitCard       pG 1x0.50                        0.50
o16   u11  11-28 11:09:00         DebitCard       pG 1x0.40                        0.40  11th: cut
o17   u12  11-28 11:11:00         DebitCard       pG 1x0.30                        0.30  12th: cut
b001  b001 11-26 00:01:00         CreditCard      pZ 1x1.00                        1.00  bulk: 623 orders b001..b623,
...                                                                                      one user each, b001..b033
b623  b623 11-26 10:23:00         CashOnDelivery  pZ 1x1.00                        1.00  CreditCard, the rest COD

The bulk orders make 640 orders in all, so the share of an odd count has an exact 5 in its
7th decimal (41 / 640 = 0.0640625): a tie that half-up rounding takes up, and that a DOUBLE
quotient (0.06406249999...) can take down.

o02 is in Kafka twice (a client's retry: two records, the second later). o06 is one Kafka
record whose row is in two objects (same partition and offset: an object read twice, or a
compaction's output beside its inputs). Either way the order counts once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from apps.contract.models import Purchase

AS_OF = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOUR_START = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=UTC)


def d(amount: str) -> Decimal:
    return Decimal(amount)


# (order, user, placed at, payment type, [(product, count, price, discount)])
ORDERS = [
    ("o01", "u01", at(28, 11, 0), "CreditCard", [("pA", 2, "10.00", "1.00")]),
    ("o02", "u01", at(28, 11, 30), "Paypal", [("pA", 1, "10.00", "0"), ("pB", 3, "5.00", "0.50")]),
    ("o03", "u02", at(28, 10, 59, 59, 999999), "CreditCard",
     [("pB", 1, "5.00", "0"), ("pB", 2, "5.00", "0")]),
    ("o04", "u02", at(28, 11, 59, 59, 999999), "CashOnDelivery", [("pC", 4, "2.50", "0")]),
    ("o05", "u03", at(28, 12, 0), "CreditCard", [("pD", 1, "20.00", "0")]),
    ("o06", "u03", at(28, 11, 10), "CreditCard", [("pB", 1, "5.00", "0"), ("pC", 1, "2.50", "0")]),
    ("o07", "u01", at(27, 9, 0), "CreditCard", [("pB", 1, "5.00", "0.50")]),
    ("o08", "u04", at(28, 11, 20), "Paypal", [("pC", 2, "2.50", "0.25")]),
    ("o09", "u05", at(28, 11, 40), "GiftCard", [("pE", 3, "4.00", "0")]),
    ("o10", "u06", at(28, 11, 41), "BankTransfer", [("pE", 3, "4.00", "0")]),
    ("o11", "u05", at(28, 11, 45), "CreditCard", [("pF", 1, "12.00", "0")]),
    ("o12", "u07", at(28, 11, 5), "CreditCard", [("pF", 1, "3.00", "0")]),
    ("o13", "u08", at(28, 11, 6), "CreditCard", [("pF", 1, "2.00", "0")]),
    ("o14", "u09", at(28, 11, 7), "Paypal", [("pF", 1, "1.00", "0")]),
    ("o15", "u10", at(28, 11, 8), "DebitCard", [("pG", 1, "0.50", "0")]),
    ("o16", "u11", at(28, 11, 9), "DebitCard", [("pG", 1, "0.40", "0")]),
    ("o17", "u12", at(28, 11, 11), "DebitCard", [("pG", 1, "0.30", "0")]),
]
BULK = 623
BULK_CREDIT_CARD = 33  # with o01 o03 o05 o06 o07 o11 o12 o13: 41 of 640
ORDERS += [(f"b{i:03d}", f"b{i:03d}", at(26, 0, 0) + timedelta(minutes=i),
            "CreditCard" if i <= BULK_CREDIT_CARD else "CashOnDelivery", [("pZ", 1, "1.00", "0")])
           for i in range(1, BULK + 1)]
RETRIED = "o02"  # Kafka holds it twice: the second copy comes later on the same partition
COPIED = "o06"  # one Kafka record, its row in two objects


def kafka_records() -> list[dict]:
    """The rows of what Kafka holds, as the stream lands them: contract fields, then Kafka
    lineage. Every order once, then the retried one again."""
    rows, offsets = [], {}
    copies = [o for o in ORDERS] + [o for o in ORDERS if o[0] == RETRIED]
    for order, user, placed_at, payment, lines in copies:
        partition = int(user[1:]) % 3  # the key is the UserId: one user, one partition
        offsets[partition] = offsets.get(partition, -1) + 1
        products = [{"ProductId": p, "ItemCount": n, "ItemPrice": d(price), "ItemDiscount": d(off)}
                    for p, n, price, off in lines]
        rows.append({
            "SessionId": f"s-{order}", "TimeStamp": placed_at, "UserId": user,
            "TotalPrice": sum((n * (d(price) - d(off)) for _, n, price, off in lines), d("0")),
            "OrderId": order, "Products": products, "PaymentType": payment,
            "kafka_topic_id": "golden", "kafka_partition": partition,
            "kafka_offset": offsets[partition],
            "kafka_timestamp": placed_at,
        })
    return rows


def lake_rows() -> list[dict]:
    """The lake's rows: Kafka's records, then the row of COPIED again (the same record)."""
    records = kafka_records()
    return records + [dict(r) for r in records if r["OrderId"] == COPIED]


# rank, product_id, units, revenue, orders. pA and pG both sell 3 units: pA first.
TOP_PRODUCTS = [
    (1, "pZ", 623, d("623.00"), 623),  # the bulk orders
    (2, "pB", 8, d("38.00"), 4),  # o02 3 + o03 1+2 + o06 1 + o07 1; 13.50+5+10+5+4.50
    (3, "pC", 7, d("17.00"), 3),  # o04 4 + o06 1 + o08 2; 10+2.50+4.50
    (4, "pE", 6, d("24.00"), 2),  # o09 3 + o10 3
    (5, "pF", 4, d("18.00"), 4),  # o11 12 + o12 3 + o13 2 + o14 1
    (6, "pA", 3, d("28.00"), 2),  # o01 2 (18.00) + o02 1 (10.00)
    (7, "pG", 3, d("1.20"), 3),   # o15 .50 + o16 .40 + o17 .30
    (8, "pD", 1, d("20.00"), 1),
]
# payment_type, orders, share (of 640 orders, rounded half up to 6 decimals: every count
# here is odd, so every share is a tie). DebitCard ties Paypal: D < P.
PAYMENT_TYPES = [
    ("CashOnDelivery", 591, d("0.923438")),  # o04 + 590 bulk: 0.9234375
    ("CreditCard", 41, d("0.064063")),       # o01 o03 o05-o07 o11-o13 + 33 bulk: 0.0640625
    ("DebitCard", 3, d("0.004688")),         # o15 o16 o17: 0.0046875
    ("Paypal", 3, d("0.004688")),            # o02 (once) o08 o14
    ("BankTransfer", 1, d("0.001563")),      # 0.0015625
    ("GiftCard", 1, d("0.001563")),
]
# rank, user_id, max_order_value, order_id (window [11:00, 12:00) on every row)
TOP_CUSTOMERS = [
    (1, "u01", d("23.50"), "o02"),
    (2, "u05", d("12.00"), "o09"),  # o09 and o11 both 12.00: the lower order id
    (3, "u06", d("12.00"), "o10"),
    (4, "u02", d("10.00"), "o04"),  # o03 (15.00) is just before the hour
    (5, "u03", d("7.50"), "o06"),   # o05 (20.00) is at as_of, outside
    (6, "u04", d("4.50"), "o08"),
    (7, "u07", d("3.00"), "o12"),
    (8, "u08", d("2.00"), "o13"),
    (9, "u09", d("1.00"), "o14"),
    (10, "u10", d("0.50"), "o15"),
]
# user_id, product_id, order_count, total_units, first_order_at, last_order_at.
# u02 bought pB on two lines of one order (o03): not a repeat.
REPEAT_PURCHASES = [
    ("u01", "pA", 2, 3, at(28, 11, 0), at(28, 11, 30)),  # o01 2 + o02 1
    ("u01", "pB", 2, 4, at(27, 9, 0), at(28, 11, 30)),   # o07 1 + o02 3
]


def contract_fields(row: dict) -> dict:
    """A lake row without its Kafka lineage: the purchase as a client sends it."""
    return {k: v for k, v in row.items() if not k.startswith("kafka_")}


def wire_json(value: object) -> str:
    """JSON as a client sends it: money as numbers, timestamps in ISO 8601."""
    return json.dumps(value, default=lambda v: float(v) if isinstance(v, Decimal)
                      else v.isoformat())


def test_golden_purchases_obey_the_contract():
    for row in lake_rows():
        Purchase.model_validate_json(wire_json(contract_fields(row)))


@pytest.mark.parametrize("expected", [TOP_PRODUCTS, PAYMENT_TYPES, TOP_CUSTOMERS])
def test_hand_worked_answers_are_consistent(expected):
    """The ranks run 1..n and the shares were rounded half up from the counts."""
    if expected is PAYMENT_TYPES:
        total = sum(orders for _, orders, _ in expected)
        assert total == len(ORDERS) == 640
        assert all(share == (d(str(orders)) / total).quantize(d("0.000001"), ROUND_HALF_UP)
                   for _, orders, share in expected)
        assert d(41) / total == d("0.0640625")  # the tie, exact
    else:
        assert [row[0] for row in expected] == list(range(1, len(expected) + 1))
