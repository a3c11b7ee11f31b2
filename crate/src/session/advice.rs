//! The advisor on a session: the open model and encoder, measured on the caller's documents
//! and questions (see [`crate::advise`]).

use burn::module::Module;

use super::Session;
use crate::advise::{self, AdviseConfig, Engines, Inputs, Progress, Report, read_questions};
use crate::data::{DataOptions, read_dataset};
use crate::error::Result;
use crate::flow::Flow;
use crate::lora;
use crate::rag::Document;
use crate::train::PlanModel;

/// The advisor's inputs as a person gives them: documents (read), and the training data and
/// questions as named texts (`(file name, text)`).
#[derive(Debug, Clone, Copy)]
pub struct AdviseFiles<'a> {
    /// The documents as they are first indexed.
    pub documents: &'a [Document],
    /// New versions of some documents (same ids) or new ones.
    pub changed_documents: &'a [Document],
    /// Labelled examples to fine-tune on (JSONL or CSV).
    pub training: (&'a str, &'a str),
    /// Generated examples both adapters also train on (chat JSONL from `webtune pairs`).
    pub generated: Option<(&'a str, &'a str)>,
    /// Questions with their key facts (JSONL).
    pub questions: (&'a str, &'a str),
    /// Questions whose answers the change altered, if any.
    pub changed_questions: Option<(&'a str, &'a str)>,
}

impl Session {
    /// [`Session::advise`] on inputs read from `files`, with errors that name each file.
    pub async fn advise_files(
        &self,
        files: &AdviseFiles<'_>,
        config: &AdviseConfig,
        on_progress: impl FnMut(&Progress) -> Flow,
    ) -> Result<Report> {
        let (name, text) = files.training;
        let training = read_dataset(name, text, &DataOptions::default())?;
        let training: Vec<_> = training.examples.into_iter().map(|(_, e)| e).collect();
        let generated: Vec<_> = match files.generated {
            Some((name, text)) => read_dataset(name, text, &DataOptions::default())?
                .examples
                .into_iter()
                .map(|(_, e)| e)
                .collect(),
            None => Vec::new(),
        };
        let questions = read_questions(files.questions.0, files.questions.1)?;
        let changed_questions = match files.changed_questions {
            Some((name, text)) => read_questions(name, text)?,
            None => Vec::new(),
        };
        let inputs = Inputs {
            documents: files.documents,
            changed_documents: files.changed_documents,
            training: &training,
            generated: &generated,
            questions: &questions,
            changed_questions: &changed_questions,
        };
        self.advise(&inputs, config, on_progress).await
    }

    /// Runs the advisor on `inputs` with the open model and encoder. It trains its adapters on
    /// a copy of the base (the weights are shared), so the session's model and adapter are
    /// left as they are.
    pub async fn advise(
        &self,
        inputs: &Inputs<'_>,
        config: &AdviseConfig,
        on_progress: impl FnMut(&Progress) -> Flow,
    ) -> Result<Report> {
        let (loaded, tokenizer) = self.text_model("answer")?;
        let encoder = self.encoder()?;
        let mut model = loaded.model.clone().no_grad();
        lora::detach(&mut model);
        let train_device = self.device.autodiff();
        let mut engines = Engines {
            model: &mut model,
            tokenizer,
            stop_ids: &loaded.stop_ids,
            device: self.device.device(),
            train_device: &train_device,
            // As loaded: f16 where the model is, 4-bit blocks where quantized.
            model_bytes: PlanModel::of(loaded).weight_bytes,
            encoder,
        };
        // Its runs pad their batches as the session's own runs do on this device.
        let mut config = config.clone();
        config.train.pad_to_multiple_of = Some(self.pad_multiple(config.train.pad_to_multiple_of));
        advise::advise(&mut engines, inputs, &config, on_progress).await
    }
}
