//! The application's only assets, built into the binary: one stylesheet and one small
//! script. No CDN, nothing fetched from elsewhere.

use axum::http::header;
use axum::response::IntoResponse;

pub const STYLESHEET: &str = "static/parlance.css";
pub const SCRIPT: &str = "static/parlance.js";

pub async fn stylesheet() -> impl IntoResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/parlance.css"),
    )
}

pub async fn script() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/parlance.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}
