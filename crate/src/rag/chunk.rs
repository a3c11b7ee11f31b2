//! Chunking documents for retrieval: by tokens, with overlap, along the text's own structure.
//!
//! A document's text is cut into sections at Markdown headings (`#` … `######`); a chunk never
//! spans two sections and remembers its section's heading. Within a section, sentences are
//! packed into chunks of at most `max_tokens` tokens; a chunk ends at a paragraph break when
//! one falls in its second half, and a sentence longer than a chunk is cut between words.
//! Each chunk after the first of a section starts with the last sentences of the one before
//! (at most `overlap_tokens` of them), so a fact cut at a boundary is whole in one chunk.
//!
//! Every chunk is a contiguous byte range of the document's text (`start..end`, on character
//! boundaries), so it can be shown in place and cited exactly.

use serde::{Deserialize, Serialize};

/// How to cut documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkOptions {
    /// Tokens per chunk, at most (the embedding model's limit bounds it).
    pub max_tokens: usize,
    /// Tokens a chunk repeats from the one before, at most.
    pub overlap_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            max_tokens: 200,
            overlap_tokens: 40,
        }
    }
}

/// A piece of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The document's id.
    pub doc_id: String,
    /// The document's title.
    pub title: String,
    /// The heading of the section it belongs to (empty before the first heading).
    pub heading: String,
    /// Its first byte in the document's text.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
    /// `text[start..end]`.
    pub text: String,
    /// Its tokens.
    pub tokens: usize,
}

/// A sentence (or a slice of one) with its byte range and tokens.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    tokens: usize,
    /// A paragraph ends after it.
    paragraph_end: bool,
}

/// Cuts document `doc_id` (`title`, `text`) into chunks, counting tokens with `count`.
pub fn chunk(
    doc_id: &str,
    title: &str,
    text: &str,
    options: &ChunkOptions,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let max = options.max_tokens.max(1);
    let overlap = options.overlap_tokens.min(max / 2);
    let mut out = Vec::new();
    for (heading, range) in sections(text) {
        let pieces = pieces(text, range, max, count);
        let mut first = 0;
        while first < pieces.len() {
            // Fill up to `max` tokens.
            let mut last = first;
            let mut tokens = pieces[first].tokens;
            while last + 1 < pieces.len() && tokens + pieces[last + 1].tokens <= max {
                last += 1;
                tokens += pieces[last].tokens;
            }
            // Prefer to end at a paragraph break in the chunk's second half.
            if last + 1 < pieces.len() && !pieces[last].paragraph_end {
                let mut sum = tokens;
                for i in (first..last).rev() {
                    sum -= pieces[i + 1].tokens;
                    if sum * 2 < max {
                        break;
                    }
                    if pieces[i].paragraph_end {
                        last = i;
                        break;
                    }
                }
            }
            let (start, end) = (pieces[first].start, pieces[last].end);
            out.push(Chunk {
                doc_id: doc_id.to_string(),
                title: title.to_string(),
                heading: heading.to_string(),
                start,
                end,
                text: text[start..end].to_string(),
                // Counted whole: pieces counted apart can differ at their seams.
                tokens: count(&text[start..end]),
            });
            if last + 1 >= pieces.len() {
                break;
            }
            // The next chunk repeats the last pieces of this one, up to `overlap` tokens, and
            // always moves forward.
            let mut next = last + 1;
            let mut repeated = 0;
            while next > first + 1 && repeated + pieces[next - 1].tokens <= overlap {
                next -= 1;
                repeated += pieces[next].tokens;
            }
            first = next;
        }
    }
    out
}

/// The text's sections: `(heading, byte range)`, cut before each Markdown heading line.
fn sections(text: &str) -> Vec<(&str, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut heading = "";
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let hashes = trimmed.bytes().take_while(|&b| b == b'#').count();
        let is_heading = (1..=6).contains(&hashes)
            && trimmed[hashes..].starts_with([' ', '\t'])
            && !trimmed[hashes..].trim().is_empty();
        if is_heading && offset > start {
            out.push((heading, start..offset));
            start = offset;
        }
        if is_heading {
            heading = trimmed[hashes..].trim();
        }
        offset += line.len();
    }
    if offset > start {
        out.push((heading, start..offset));
    }
    out
}

/// The sentences of `text[range]` (words of over-long ones), trimmed, with token counts.
fn pieces(
    text: &str,
    range: std::ops::Range<usize>,
    max: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Piece> {
    let mut out = Vec::new();
    for (p_start, p_end) in paragraphs(text, range) {
        let sentences = sentences(text, p_start, p_end);
        let n = sentences.len();
        for (i, (s, e)) in sentences.into_iter().enumerate() {
            let tokens = count(&text[s..e]);
            if tokens <= max {
                out.push(Piece {
                    start: s,
                    end: e,
                    tokens,
                    paragraph_end: i + 1 == n,
                });
                continue;
            }
            // Too long for one chunk: cut between words.
            let words = words(text, s, e);
            let mut first = 0;
            while first < words.len() {
                let mut last = first;
                while last + 1 < words.len()
                    && count(&text[words[first].0..words[last + 1].1]) <= max
                {
                    last += 1;
                }
                let (ws, we) = (words[first].0, words[last].1);
                out.push(Piece {
                    start: ws,
                    end: we,
                    tokens: count(&text[ws..we]),
                    paragraph_end: i + 1 == n && last + 1 == words.len(),
                });
                first = last + 1;
            }
        }
    }
    out
}

/// Non-blank paragraphs (separated by blank lines), trimmed, as byte ranges.
fn paragraphs(text: &str, range: std::ops::Range<usize>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut offset = range.start;
    for line in text[range.clone()].split_inclusive('\n') {
        let blank = line.trim().is_empty();
        match (blank, start) {
            (false, None) => start = Some(offset),
            (true, Some(s)) => {
                out.push(trim(text, s, offset));
                start = None;
            }
            _ => {}
        }
        offset += line.len();
    }
    if let Some(s) = start {
        out.push(trim(text, s, range.end));
    }
    out.into_iter().filter(|(s, e)| e > s).collect()
}

/// Sentences of `text[start..end]`: cut after `.`, `!`, `?` (or CJK `。！？`) followed by
/// whitespace, and at line breaks; trimmed.
fn sentences(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut s = start;
    let mut chars = text[start..end].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        let cut = c == '\n'
            || matches!(c, '。' | '！' | '？')
            || (matches!(c, '.' | '!' | '?') && next_is_space);
        if cut {
            let e = start + i + c.len_utf8();
            let (ts, te) = trim(text, s, e);
            if te > ts {
                out.push((ts, te));
            }
            s = e;
        }
    }
    let (ts, te) = trim(text, s, end);
    if te > ts {
        out.push((ts, te));
    }
    out
}

/// Words of `text[start..end]` as byte ranges.
fn words(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut word = None;
    for (i, c) in text[start..end].char_indices() {
        match (c.is_whitespace(), word) {
            (false, None) => word = Some(start + i),
            (true, Some(w)) => {
                out.push((w, start + i));
                word = None;
            }
            _ => {}
        }
    }
    if let Some(w) = word {
        out.push((w, end));
    }
    out
}

fn trim(text: &str, start: usize, end: usize) -> (usize, usize) {
    let slice = &text[start..end];
    let lead = slice.len() - slice.trim_start().len();
    let trail = slice.len() - slice.trim_end().len();
    (start + lead, (end - trail).max(start + lead))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_count(s: &str) -> usize {
        s.split_whitespace().count()
    }

    const DOC: &str = "# Leave policy\n\nEmployees accrue 1.5 days of leave per month. Unused \
        days carry over up to ten days.\n\nRequests go to your manager at least two weeks \
        ahead. Emergencies are the exception!\n\n## Sick leave\n\nSick leave is separate. It \
        needs a doctor's note after three days.\n\n## Café — Zürich office\n\nThe café opens \
        at 8. 東京オフィスは九時に開きます。Its hours may change.\n";

    #[test]
    fn chunks_are_exact_ranges_within_sections_and_sizes() {
        let options = ChunkOptions {
            max_tokens: 12,
            overlap_tokens: 5,
        };
        let chunks = chunk("hr/leave.md", "Leave", DOC, &options, &words_count);
        assert!(chunks.len() >= 4, "{chunks:#?}");
        for c in &chunks {
            assert_eq!(&DOC[c.start..c.end], c.text);
            assert!(c.tokens <= 12 && c.tokens == words_count(&c.text), "{c:?}");
            assert_eq!(
                (c.doc_id.as_str(), c.title.as_str()),
                ("hr/leave.md", "Leave")
            );
            // Never across a heading.
            assert!(!c.text.contains("\n#"), "{c:?}");
        }
        let headings: Vec<&str> = chunks.iter().map(|c| c.heading.as_str()).collect();
        assert!(headings.contains(&"Sick leave") && headings.contains(&"Café — Zürich office"));
        // Every word of the document is in some chunk.
        for (i, w) in DOC.split_whitespace().enumerate() {
            let at = DOC.match_indices(w).map(|(p, _)| p).collect::<Vec<_>>();
            assert!(
                at.iter()
                    .any(|&p| chunks.iter().any(|c| c.start <= p && p + w.len() <= c.end)),
                "word {i} {w:?} is in no chunk"
            );
        }
    }

    #[test]
    fn consecutive_chunks_overlap_and_move_forward() {
        let text = (0..60)
            .map(|i| format!("Sentence number {i} is here."))
            .collect::<Vec<_>>()
            .join(" ");
        let options = ChunkOptions {
            max_tokens: 20,
            overlap_tokens: 6,
        };
        let chunks = chunk("d", "t", &text, &options, &words_count);
        for pair in chunks.windows(2) {
            assert!(pair[1].start > pair[0].start, "no progress: {pair:?}");
            assert!(pair[1].start < pair[0].end, "no overlap: {pair:?}");
            let repeated = words_count(&text[pair[1].start..pair[0].end]);
            assert!(repeated <= 6, "{repeated} tokens repeated");
        }
        assert_eq!(chunks.last().unwrap().end, text.len());
    }

    #[test]
    fn a_chunk_ends_at_a_paragraph_break_when_one_is_near() {
        let text = "One two three four five six seven. Eight nine ten.\n\nEleven twelve. \
                    Thirteen fourteen fifteen sixteen.";
        let options = ChunkOptions {
            max_tokens: 13,
            overlap_tokens: 0,
        };
        let chunks = chunk("d", "t", text, &options, &words_count);
        assert_eq!(
            chunks[0].text,
            "One two three four five six seven. Eight nine ten."
        );
    }

    #[test]
    fn over_long_sentences_are_cut_between_words_and_empty_text_has_no_chunks() {
        let long = "word ".repeat(50);
        let chunks = chunk(
            "d",
            "t",
            &long,
            &ChunkOptions {
                max_tokens: 16,
                overlap_tokens: 4,
            },
            &words_count,
        );
        assert!(chunks.iter().all(|c| c.tokens <= 16 && c.tokens > 0));
        assert_eq!(chunks.last().unwrap().end, long.trim_end().len());
        assert!(chunk("d", "t", "", &ChunkOptions::default(), &words_count).is_empty());
        assert!(chunk("d", "t", " \n\n \n", &ChunkOptions::default(), &words_count).is_empty());
    }
}
