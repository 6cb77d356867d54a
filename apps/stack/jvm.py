"""How the stack's long-running JVMs (Kafka, the stream's driver, the warm Spark) size
their heap: they start small and give memory back when quiet, so an idle stack holds what
it uses, not the peak of its last burst.

G1 returns free heap only at a collection, and never below the initial heap (by default a
64th of the machine's memory, 384 MiB here): a small start, a collection after 30 s
without one, and at most 30% of the heap kept free after it.
"""

IDLE_HEAP = ("-Xms64m", "-XX:G1PeriodicGCInterval=30000", "-XX:MinHeapFreeRatio=10",
             "-XX:MaxHeapFreeRatio=30")
