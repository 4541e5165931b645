/// Writes u32 little-endian shards; a shard becomes visible only once complete.
#[derive(Default)]
pub struct ShardWriter {
    ids: Vec<u32>,
}

impl ShardWriter {
    pub fn push(&mut self, id: u32, vocab_size: u32) -> Result<(), String> {
        if id >= vocab_size {
            return Err(format!("id {id} >= vocab {vocab_size} {{not a brace}}"));
        }
        self.ids.push(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_is_four_bytes_per_token() {
        let w = ShardWriter::default();
        assert_eq!(w.ids.len() * 4, 0);
    }

    // #[test] fn a_commented_out_test() {}

    #[test]
    fn rejects_id_at_vocab_size() {
        let mut w = ShardWriter::default();
        assert!(w.push(10, 10).is_err());
    }
}
