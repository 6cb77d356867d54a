-- The 10 products most purchased repeatedly.
--
-- Definition: a product is purchased repeatedly by a customer who bought it in two or more
-- distinct orders (one row of repeat_purchases; several units or lines in one order are
-- one order). Products are ranked by how many such customers they have (repeat_customers),
-- then by how many orders those customers placed for them (repeat_orders), then by
-- product id, so the order is total.
SELECT row_number() OVER (ORDER BY count(*) DESC, sum(order_count) DESC, product_id) AS rank,
       product_id,
       count(*)          AS repeat_customers,
       sum(order_count)::bigint AS repeat_orders,
       sum(total_units)::bigint AS repeat_units
FROM repeat_purchases
GROUP BY product_id
ORDER BY rank
LIMIT 10;
