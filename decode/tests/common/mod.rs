//! Helpers shared by the format tests: decode a payload into a list of items.

use faultline_decode::{DecodeError, Format, Item, ItemError, Kind, Sample, decode};

/// Every item (or item error) the decoder hands out, in order.
pub fn run(
    format: Format,
    kind: Kind,
    payload: &[u8],
) -> Result<Vec<Result<Item<'_>, ItemError>>, DecodeError> {
    let mut items = Vec::new();
    decode(format, kind, payload, &mut |item| items.push(item))?;
    Ok(items)
}

/// The samples of a metrics payload; any other item fails the test.
pub fn samples(
    format: Format,
    payload: &[u8],
) -> Result<Vec<Result<Sample<'_>, ItemError>>, DecodeError> {
    Ok(run(format, Kind::Metrics, payload)?
        .into_iter()
        .map(|item| {
            item.map(|item| match item {
                Item::Metric(sample) => sample,
                other => panic!("not a metric: {other:?}"),
            })
        })
        .collect())
}
