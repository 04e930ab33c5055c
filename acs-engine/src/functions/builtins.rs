//! The built-in functions: `textContainsPII`, `distance`, `matches`, `now`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    TextContainsPii,
    Distance,
    Matches,
    Now,
}

/// Mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

impl Builtin {
    pub const ALL: [Builtin; 4] = [
        Builtin::TextContainsPii,
        Builtin::Distance,
        Builtin::Matches,
        Builtin::Now,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::TextContainsPii => "textContainsPII",
            Builtin::Distance => "distance",
            Builtin::Matches => "matches",
            Builtin::Now => "now",
        }
    }

    pub fn arity(self) -> usize {
        match self {
            Builtin::TextContainsPii => 1,
            Builtin::Distance | Builtin::Matches => 2,
            Builtin::Now => 0,
        }
    }

    pub fn by_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// Milliseconds since the Unix epoch, from the system clock.
pub(crate) fn now_millis() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        // Whole milliseconds without `as_millis`' 128-bit arithmetic.
        .map_or(0.0, |d| {
            d.as_secs() as f64 * 1000.0 + f64::from(d.subsec_millis())
        })
}

/// Haversine distance in metres between two `{lat, lng|lon}` objects in degrees.
/// `Ok(None)` when either point is null (a missing location).
pub(crate) fn distance(a: &Value, b: &Value) -> Result<Option<f64>, String> {
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    let (lat1, lng1) = coordinates(a, "first")?;
    let (lat2, lng2) = coordinates(b, "second")?;
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lng2 - lng1).to_radians();
    let h = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    Ok(Some(2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()))
}

fn coordinates(point: &Value, which: &str) -> Result<(f64, f64), String> {
    // One pass over the (small) object instead of three map look-ups.
    let (mut lat, mut lng, mut lon) = (None, None, None);
    if let Value::Object(map) = point {
        for (key, value) in map {
            match key.as_str() {
                "lat" => lat = value.as_f64(),
                "lng" if !value.is_null() => lng = value.as_f64().map(Some),
                "lon" => lon = value.as_f64(),
                _ => {}
            }
        }
    }
    // `lng` wins when present and not null, numeric or not; `lon` is the fallback.
    let lng = lng.unwrap_or(lon);
    match (lat, lng) {
        (Some(lat), Some(lng)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng) => Ok((lat, lng)),
        (Some(_), Some(_)) => Err(format!("the {which} point of `distance` is out of range")),
        _ => Err(format!(
            "the {which} argument of `distance` must be an object with numeric `lat` and `lng` (or `lon`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn distance_between_known_cities() {
        // Mumbai -> Pune, about 120 km as the crow flies.
        let d = distance(
            &json!({"lat": 19.0760, "lng": 72.8777}),
            &json!({"lat": 18.5204, "lon": 73.8567}),
        )
        .unwrap()
        .unwrap();
        assert!((d - 119_800.0).abs() < 1_000.0, "{d}");
        assert_eq!(
            distance(&json!({"lat": 1, "lng": 2}), &json!({"lat": 1, "lng": 2})).unwrap(),
            Some(0.0)
        );
    }

    #[test]
    fn distance_of_missing_points_is_null_and_bad_points_are_errors() {
        assert_eq!(
            distance(&Value::Null, &json!({"lat": 1, "lng": 2})).unwrap(),
            None
        );
        assert!(distance(&json!({"lat": "x"}), &json!({"lat": 1, "lng": 2})).is_err());
        assert!(distance(&json!({"lat": 91, "lng": 0}), &json!({"lat": 1, "lng": 2})).is_err());
    }
}
