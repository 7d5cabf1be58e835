//! Probes (STUB): one ICMP echo or TCP connect, classified. No scheduling here.
