//! What a session writes out, and in which formats: PEFT adapters and Hugging Face checkpoints
//! for the PyTorch ecosystem, GGUF files (an adapter, or a merged model in F32/F16/Q8_0) with an
//! Ollama `Modelfile` for llama.cpp, Ollama, LM Studio and wllama. Every export is a complete
//! model: a checkpoint carries its tokenizer files, a GGUF file its tokenizer and chat template.

use burn::module::Module;

use super::run::adapted_layers;
use super::{OpenModel, Session, policy};
use crate::error::{Error, Result};
use crate::io::gguf::GgmlType;
use crate::lora;
use crate::models::export;
use crate::tokenizer::{Message, Tokenizer};
use crate::train::Method;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// What the run made: a PEFT adapter after LoRA/DoRA, a whole checkpoint after full/HFT.
    Result,
    /// The base with the adapter folded in, as a whole Hugging Face checkpoint.
    Merged,
    /// The adapter as llama.cpp's GGUF adapter file (`adapter.gguf`) and a `Modelfile`.
    GgufAdapter,
    /// The base with the adapter (if any) folded in, as one GGUF file whose matrices are of
    /// this type (F32, F16 or Q8_0), and a `Modelfile`.
    GgufMerged(GgmlType),
}

impl ExportKind {
    /// The GGUF types a merged model can be written in, by the names llama.cpp's tools use.
    pub const GGUF_TYPES: [(&'static str, GgmlType); 3] = [
        ("f32", GgmlType::F32),
        ("f16", GgmlType::F16),
        ("q8_0", GgmlType::Q8_0),
    ];

    /// The merged-GGUF export of type `name` (`"f16"`, `"q8_0"`, `"f32"`).
    pub fn gguf_merged(name: &str) -> Result<Self> {
        Self::GGUF_TYPES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, ty)| Self::GgufMerged(ty))
            .ok_or_else(|| Error::Setting {
                setting: "quant".into(),
                problem: format!("{name:?} is not one of f32, f16, q8_0"),
            })
    }
}

/// A merged GGUF model's file name: `model-f16.gguf`.
fn model_file(ty: GgmlType) -> String {
    format!("model-{}.gguf", ty.to_string().to_lowercase())
}

impl Session {
    /// The export of `kind` as one ZIP archive (one download in a browser, which asks before a
    /// second), named for what it holds: `webtune-adapter.zip`, `webtune-merged.zip`,
    /// `webtune-adapter-gguf.zip` or `webtune-model-gguf.zip`. Its files are
    /// [`Session::export`]'s, at the archive's top level: unpacked into a folder, it is what
    /// PEFT's `from_pretrained`, transformers or `ollama create` read.
    pub async fn export_archive(&self, kind: ExportKind) -> Result<(String, Vec<u8>)> {
        let name = match kind {
            ExportKind::Result => "webtune-adapter.zip",
            ExportKind::Merged => "webtune-merged.zip",
            ExportKind::GgufAdapter => "webtune-adapter-gguf.zip",
            ExportKind::GgufMerged(_) => "webtune-model-gguf.zip",
        };
        let files = self.export(kind).await?;
        Ok((name.into(), crate::io::zip::stored(&files)?))
    }

    /// The files of `kind` (see [`ExportKind`]) by name: `adapter_config.json` +
    /// `adapter_model.safetensors`; or `config.json` + `model.safetensors` and the tokenizer
    /// files (see [`policy::tokenizer_files`]); or a GGUF file and a `Modelfile`. The open
    /// model is left as it is. Nothing is returned, and so nothing written, unless all of it
    /// could be made.
    pub async fn export(&self, kind: ExportKind) -> Result<Vec<(String, Vec<u8>)>> {
        let open = self.model()?;
        let config = self.config.clone().unwrap_or_default();
        let has_adapter = adapted_layers(&open.loaded.model) > 0;
        let no_adapter = || Error::Input {
            problem: "there is no adapter to export: train or import one first".into(),
        };
        match kind {
            ExportKind::Result if config.method == Method::Lora => {
                if !has_adapter {
                    return Err(no_adapter());
                }
                let (adapter_config, weights) =
                    lora::peft::save(&open.loaded.model, &config.lora, &open.name).await?;
                Ok(vec![
                    ("adapter_config.json".into(), adapter_config),
                    ("adapter_model.safetensors".into(), weights),
                ])
            }
            ExportKind::Result | ExportKind::Merged => {
                let mut model = open.loaded.model.valid();
                lora::merge(&mut model);
                let mut files = export::checkpoint_files(&model, &open.loaded.config).await?;
                files.extend(policy::tokenizer_files(open)?);
                Ok(files)
            }
            ExportKind::GgufAdapter => {
                if !has_adapter {
                    return Err(no_adapter());
                }
                let model_config = &open.loaded.config;
                let names = |hf: &str| model_config.gguf_name(hf);
                let arch = model_config.gguf_architecture();
                let bytes =
                    lora::gguf::save(&open.loaded.model, &config.lora, arch, &names).await?;
                let base = short_name(open);
                let modelfile = modelfile(open, &format!("./{base}"), Some("adapter.gguf"))?;
                Ok(vec![
                    ("adapter.gguf".into(), bytes),
                    ("Modelfile".into(), modelfile),
                ])
            }
            ExportKind::GgufMerged(ty) => {
                let metadata = || {
                    let tokenizer =
                        open.loaded
                            .tokenizer
                            .as_ref()
                            .ok_or_else(|| Error::Export {
                                what: model_file(ty),
                                problem: format!(
                                    "{} has no tokenizer, and llama.cpp needs one in the file",
                                    open.name
                                ),
                            })?;
                    tokenizer.gguf_metadata(open.loaded.config.vocab_size())
                };
                let mut model = open.loaded.model.valid();
                lora::merge(&mut model);
                let bytes = export::gguf_model(&model, &open.loaded.config, ty, metadata).await?;
                let file = model_file(ty);
                let modelfile = modelfile(open, &format!("./{file}"), None)?;
                Ok(vec![(file, bytes), ("Modelfile".into(), modelfile)])
            }
        }
    }
}

/// The open model's file or folder name without its path: where a `Modelfile` looks for it.
/// (The GGUF files record no name: the page and the CLI write the same bytes.)
fn short_name(open: &OpenModel) -> &str {
    open.name.rsplit(['/', '\\']).next().unwrap_or(&open.name)
}

/// An Ollama `Modelfile` for `from` (a model file or folder) with `adapter`: for a ChatML
/// model its prompt template in Ollama's syntax and the default system prompt its chat
/// template adds; otherwise Ollama reads the template from the GGUF's
/// `tokenizer.chat_template`. Stops at the end-of-turn token.
fn modelfile(open: &OpenModel, from: &str, adapter: Option<&str>) -> Result<Vec<u8>> {
    let mut out = String::from(
        "# Ollama: run `ollama create NAME -f Modelfile` in this folder, then `ollama run NAME`.\n",
    );
    out.push_str(&format!("FROM {from}\n"));
    if let Some(adapter) = adapter {
        out.push_str(&format!(
            "# The adapter was trained on {from}: put that base model beside it, or name its path.\n\
             ADAPTER ./{adapter}\n"
        ));
    }
    let tokenizer = open.loaded.tokenizer.as_ref();
    match tokenizer.map(chatml).transpose()? {
        Some(Some(system)) => {
            out.push_str(CHATML_TEMPLATE);
            if let Some(system) = system {
                out.push_str(&format!("SYSTEM \"\"\"{system}\"\"\"\n"));
            }
            out.push_str("PARAMETER stop \"<|im_end|>\"\n");
        }
        _ => {
            out.push_str(
                "# TEMPLATE: Ollama takes the chat template from the GGUF file's metadata.\n",
            );
            if let Some(eos) = tokenizer.and_then(|t| t.eos_id.and_then(|id| t.token(id))) {
                out.push_str(&format!(
                    "PARAMETER stop \"{}\"\n",
                    eos.replace('"', "\\\"")
                ));
            }
        }
    }
    Ok(out.into_bytes())
}

/// ChatML as Ollama's Go template.
const CHATML_TEMPLATE: &str = "TEMPLATE \"\"\"{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
\"\"\"
";

/// For a tokenizer whose chat template renders ChatML, `Some(the system prompt it adds when
/// none is given)`; `None` for any other template. Decided by rendering, not by reading the
/// template's source.
fn chatml(tokenizer: &Tokenizer) -> Result<Option<Option<String>>> {
    let Some(template) = &tokenizer.chat_template else {
        return Ok(None);
    };
    let user = "QUESTION";
    let rendered = template.render(&[Message::new("user", user)], true)?;
    let turn = format!("<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n");
    let Some(before) = rendered.strip_suffix(&turn) else {
        return Ok(None);
    };
    if before.is_empty() {
        return Ok(Some(None));
    }
    Ok(before
        .strip_prefix("<|im_start|>system\n")
        .and_then(|s| s.strip_suffix("<|im_end|>\n"))
        .map(|system| Some(system.to_string())))
}
