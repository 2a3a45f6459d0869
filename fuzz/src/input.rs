//! Reading a fuzzer's bytes as the values a harness needs: small numbers
//! first, then the rest as text or data. Running out of bytes gives zeros
//! and empty text, never a failure, so every input is a valid case.

/// Fuzz input consumed from the front.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Starts reading `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next byte (0 when none is left).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `n` bytes (fewer when the input ends).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) | (u16::from(self.byte()) << 8)
    }

    /// A flag.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// What is left, as bytes.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// What is left, as text (invalid UTF-8 replaced).
    pub fn rest_str(&mut self) -> String {
        String::from_utf8_lossy(self.rest()).into_owned()
    }

    /// Text up to the next 0 byte (or the end), invalid UTF-8 replaced.
    pub fn str_until_nul(&mut self) -> String {
        let end = self
            .data
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.data.len());
        let s = String::from_utf8_lossy(&self.data[..end]).into_owned();
        self.data = &self.data[(end + 1).min(self.data.len())..];
        s
    }
}
