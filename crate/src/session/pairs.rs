//! Training pairs from documents on a session: the open model (its adapter off) writes
//! question/answer pairs about the index's passages or about documents given (see
//! [`crate::qa`]).

use burn::module::Module;

use super::Session;
use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::lora;
use crate::models::CausalLm;
use crate::qa::{self, QaConfig, QaProgress, QaReport, Writer};
use crate::rag::{Chunk, Document};

impl Session {
    /// The index's passages, document by document (in id order), each in text order.
    pub fn indexed_passages(&self) -> Result<Vec<Chunk>> {
        let index = self.index()?;
        Ok(index
            .documents()
            .flat_map(|d| d.chunk_ids.iter().filter_map(|id| index.chunk(*id)))
            .cloned()
            .collect())
    }

    /// Writes checked question/answer pairs about `documents` (cut into passages with
    /// `config.chunks`, counted in the model's tokens), or, when `None`, about the index's
    /// passages, with the open model, its adapter off. `on_progress` may stop the work; the
    /// pairs made so far are returned.
    pub async fn generate_pairs(
        &self,
        documents: Option<&[Document]>,
        config: &QaConfig,
        on_progress: impl FnMut(&QaProgress) -> Flow,
    ) -> Result<QaReport> {
        config.check()?;
        let (loaded, tokenizer) = self.text_model("write questions")?;
        let passages = match documents {
            Some(documents) => {
                qa::passages(documents, tokenizer, config, loaded.model.context_length())
            }
            None => self.indexed_passages()?,
        };
        if passages.is_empty() {
            return Err(Error::Input {
                problem: "there are no documents to write questions about: add some first".into(),
            });
        }
        let mut model = loaded.model.valid();
        lora::detach(&mut model);
        let writer = Writer {
            model: &model,
            tokenizer,
            stop_ids: &loaded.stop_ids,
            device: self.device.device(),
        };
        qa::generate_pairs(&writer, &passages, config, on_progress).await
    }
}
