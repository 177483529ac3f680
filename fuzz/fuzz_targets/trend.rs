//! trend's sample ordering and metadata: the input is a series of `meta` files (separated by
//! 0xff bytes), each parsed, timed and placed as a sample; then the series is ordered and
//! checked. A series that is accepted must be in time order, every time finite and not
//! negative, and one host and one boot id throughout (where the samples say).
#![no_main]
use libfuzzer_sys::fuzz_target;
use membudget::parse::meta::parse_meta;
use membudget::trend::series::{order_series, sample_time, Board, Sample};

fuzz_target!(|data: &[u8]| {
    let mut samples = Vec::new();
    for (k, meta) in data.split(|&c| c == 0xff).enumerate() {
        let origin = format!("sample-{k}");
        let Ok(meta) = parse_meta(meta) else {
            return;
        };
        let Ok(time) = sample_time(&meta, &origin) else {
            return;
        };
        samples.push(Sample {
            time,
            board: Board::of(&meta),
            origin,
            processes: Vec::new(),
            meminfo: Default::default(),
            ram_fs: Default::default(),
        });
    }
    if order_series(&mut samples).is_err() {
        return;
    }
    assert!(samples.windows(2).all(|w| w[0].time <= w[1].time));
    assert!(samples.iter().all(|s| s.time.is_finite() && s.time >= 0.0));
    for key in [|b: &Board| b.host.clone(), |b: &Board| b.boot_id.clone()] {
        let mut values: Vec<String> = samples.iter().filter_map(|s| key(&s.board)).collect();
        values.dedup();
        assert!(values.len() <= 1, "{values:?}");
    }
});
