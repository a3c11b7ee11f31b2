//! Loading a whole model — weights, config, tokenizer, stop tokens — from its files, the same
//! way natively and in the page: a single GGUF file, or a Hugging Face folder's files
//! (`config.json`, `model.safetensors` or shards with `model.safetensors.index.json`,
//! `tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`,
//! `generation_config.json`). PyTorch pickles are refused.

use std::collections::BTreeSet;

use serde_json::Value;

use super::weights::{Placement, SafetensorsWeights};
use super::{Architecture, Model, ModelConfig};
use crate::device::ComputeDevice;
use crate::error::{Error, Result};
use crate::io::gguf::GgufFile;
use crate::io::{ByteSource, Format, sniff};
use crate::tokenizer::Tokenizer;

/// A loaded model with what generation needs besides the weights.
#[derive(Debug)]
pub struct Loaded {
    /// Its hyper-parameters.
    pub config: ModelConfig,
    /// The model, on the device.
    pub model: Model,
    /// Its tokenizer, when the checkpoint has one.
    pub tokenizer: Option<Tokenizer>,
    /// Tokens that end generation (the tokenizer's EOS and `generation_config.json`'s
    /// `eos_token_id`s).
    pub stop_ids: Vec<u32>,
}

impl Loaded {
    /// Its family.
    pub fn architecture(&self) -> Architecture {
        self.config.architecture()
    }
}

/// Small JSON and text files are read whole; anything larger is not a config.
const MAX_TEXT_FILE: u64 = 256 << 20;

/// The file name part of a source's name (`dir/config.json` → `config.json`).
pub(crate) fn base_name(source: &impl ByteSource) -> &str {
    let name = source.name();
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// The whole of a small file (a config, a tokenizer), refusing one too large to be one.
pub(crate) async fn read_all(source: &impl ByteSource) -> Result<Vec<u8>> {
    if source.len() > MAX_TEXT_FILE {
        return Err(Error::Checkpoint {
            file: source.name().to_string(),
            problem: format!("is {} bytes, too large for a config file", source.len()),
        });
    }
    source.read(0, source.len() as usize).await
}

async fn read_text(source: &impl ByteSource) -> Result<String> {
    String::from_utf8(read_all(source).await?).map_err(|_| Error::Checkpoint {
        file: source.name().to_string(),
        problem: "is not UTF-8 text".into(),
    })
}

/// Loads the model in `files` onto `device`. `name` (a folder or file name) is what errors
/// call the checkpoint. `files` is either one GGUF file or a Hugging Face folder's files
/// (extra files are ignored).
pub async fn load_checkpoint<S: ByteSource>(
    name: &str,
    files: Vec<S>,
    device: &ComputeDevice,
) -> Result<Loaded> {
    load_checkpoint_to(name, files, &Placement::of(device)).await
}

/// [`load_checkpoint`] with an explicit [`Placement`]. A tokenizer whose ids reach past the
/// model's embedding (another model's tokenizer) is refused: such an id would index outside
/// the embedding.
pub async fn load_checkpoint_to<S: ByteSource>(
    name: &str,
    files: Vec<S>,
    placement: &Placement,
) -> Result<Loaded> {
    let loaded = load_any(name, files, placement).await?;
    let rows = crate::models::CausalLm::vocab_size(&loaded.model);
    if let Some(tokenizer) = &loaded.tokenizer
        && let Some(max) = tokenizer.max_id().filter(|&max| max as usize >= rows)
    {
        return Err(Error::Tokenizer {
            file: tokenizer.source().to_string(),
            problem: format!(
                "has token ids up to {max}, but the model's embedding has {rows} rows: the \
                 tokenizer and the model do not belong together"
            ),
        });
    }
    Ok(loaded)
}

async fn load_any<S: ByteSource>(
    name: &str,
    files: Vec<S>,
    placement: &Placement,
) -> Result<Loaded> {
    let find = |base: &str| files.iter().find(|f| base_name(*f) == base);
    let config = find("config.json");
    let ggufs: Vec<&S> = files
        .iter()
        .filter(|f| base_name(*f).to_ascii_lowercase().ends_with(".gguf"))
        .collect();
    match (config, ggufs.as_slice()) {
        (None, [gguf]) => return load_gguf(*gguf, placement).await,
        (None, []) if files.len() == 1 => {
            // One file of no recognised name: say what it is, refusing pickles.
            return match sniff(&files[0]).await? {
                Format::Gguf => load_gguf(&files[0], placement).await,
                _ => Err(Error::Checkpoint {
                    file: files[0].name().to_string(),
                    problem: "is neither a GGUF file nor part of a Hugging Face folder \
                              (config.json + *.safetensors)"
                        .into(),
                }),
            };
        }
        (None, []) => {
            return Err(Error::Checkpoint {
                file: name.to_string(),
                problem: "has no config.json and no GGUF file".into(),
            });
        }
        (None, _) => {
            return Err(Error::Checkpoint {
                file: name.to_string(),
                problem: "has several GGUF files; choose one".into(),
            });
        }
        (Some(_), _) => {}
    }
    let config_file = config.ok_or_else(|| Error::Checkpoint {
        file: name.to_string(),
        problem: "has no config.json".into(),
    })?;
    let config = ModelConfig::from_json(config_file.name(), &read_all(config_file).await?)?;

    // Shards: those the index lists, or every *.safetensors file.
    let shard_names: Vec<String> = match find("model.safetensors.index.json") {
        Some(index) => {
            let json: Value = serde_json::from_slice(&read_all(index).await?).map_err(|err| {
                Error::Checkpoint {
                    file: index.name().to_string(),
                    problem: format!("is not valid JSON: {err}"),
                }
            })?;
            let map = json.get("weight_map").and_then(Value::as_object);
            let map = map.ok_or_else(|| Error::Checkpoint {
                file: index.name().to_string(),
                problem: "has no `weight_map` object".into(),
            })?;
            let shards: BTreeSet<String> = map
                .values()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            shards.into_iter().collect()
        }
        None => files
            .iter()
            .map(|f| base_name(f).to_string())
            .filter(|n| n.ends_with(".safetensors"))
            .collect(),
    };
    if shard_names.is_empty() {
        // A folder with only pickled weights gets the pickle's own explanation.
        for file in &files {
            sniff(file).await?;
        }
        return Err(Error::Checkpoint {
            file: name.to_string(),
            problem: "has no *.safetensors weights".into(),
        });
    }
    let mut shards = Vec::with_capacity(shard_names.len());
    let mut rest: Vec<S> = Vec::new();
    for file in files {
        if shard_names.iter().any(|s| s == base_name(&file)) {
            // Refuses a pickle; a damaged safetensors header gets its own error on opening.
            if let Format::Gguf | Format::Json = sniff(&file).await? {
                return Err(Error::Checkpoint {
                    file: file.name().to_string(),
                    problem: "is not a safetensors file".into(),
                });
            }
            shards.push(file);
        } else {
            rest.push(file);
        }
    }
    if let Some(missing) = shard_names
        .iter()
        .find(|s| !shards.iter().any(|f| base_name(f) == s.as_str()))
    {
        return Err(Error::Checkpoint {
            file: name.to_string(),
            problem: format!("the index lists shard {missing}, which is missing"),
        });
    }
    let weights = SafetensorsWeights::open(name, shards).await?;
    let model = Model::load(&config, &weights, placement).await?;

    let find = |base: &str| rest.iter().find(|f| base_name(*f) == base);
    let tokenizer = match find("tokenizer.json") {
        Some(json) => {
            let tokenizer_config = match find("tokenizer_config.json") {
                Some(f) => Some(read_all(f).await?),
                None => None,
            };
            let template = match find("chat_template.jinja") {
                Some(f) => Some(read_text(f).await?),
                None => None,
            };
            Some(Tokenizer::from_hf(
                json.name(),
                &read_all(json).await?,
                tokenizer_config.as_deref(),
                template,
            )?)
        }
        None => None,
    };
    let mut stop_ids: Vec<u32> = tokenizer.iter().filter_map(|t| t.eos_id).collect();
    if let Some(generation) = find("generation_config.json") {
        let json: Value =
            serde_json::from_slice(&read_all(generation).await?).map_err(|err| Error::Config {
                file: generation.name().to_string(),
                problem: format!("is not valid JSON: {err}"),
            })?;
        let ids = match json.get("eos_token_id") {
            Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_u64).collect(),
            Some(id) => id.as_u64().into_iter().collect(),
            None => Vec::new(),
        };
        for id in ids {
            if id < config.vocab_size() as u64 && !stop_ids.contains(&(id as u32)) {
                stop_ids.push(id as u32);
            }
        }
    }
    Ok(Loaded {
        config,
        model,
        tokenizer,
        stop_ids,
    })
}

/// Loads a GGUF file: config from its metadata, tokenizer rebuilt from it when it has one.
async fn load_gguf(source: &impl ByteSource, placement: &Placement) -> Result<Loaded> {
    let file = GgufFile::open(source).await?;
    let (config, model) = Model::load_gguf(&file, source, placement).await?;
    let tokenizer = match file.get("tokenizer.ggml.model") {
        Some(_) => Some(Tokenizer::from_gguf(source.name(), &file)?),
        None => None,
    };
    Ok(Loaded {
        config,
        model,
        stop_ids: tokenizer.iter().filter_map(|t| t.eos_id).collect(),
        tokenizer,
    })
}
