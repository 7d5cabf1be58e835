//! Pictures: the response-time chart `/graph` sends ([`chart`], PNG) and the public
//! status page `/page on` publishes ([`page`], HTML with inline SVG). Pure: data in,
//! bytes out; no I/O and no clock, so every picture is a test fixture.

pub mod chart;
pub mod page;
