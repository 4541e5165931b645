//! Token shards for training data (a fixture for pv's tests: names, not a working crate).
pub mod writer;

#[cfg(test)]
mod tests {
    use super::writer::ShardWriter;

    #[test]
    fn concurrent_appends_serialize() {
        let _ = ShardWriter::default();
    }
}
