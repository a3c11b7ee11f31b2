//! The advisor's whole pipeline on the tiny random Llama and the tiny random BERT (CPU): four
//! approaches answer the held-out and the changed questions, both adapters train and come off
//! again, the rows and the recommendation are filled from what was measured. (The demo data's
//! real numbers come from `webtune advise` with SmolLM2; see docs/advisor.md.)

use webtune::ComputeDevice;
use webtune::advise::score::{Marker, states_all};
use webtune::advise::{Absorb, AdviseConfig, Arm, Engines, Inputs, Progress, Question, advise};
use webtune::burn::module::Module;
use webtune::data::Example;
use webtune::generate::Flow;
use webtune::models::{Placement, load_checkpoint_to};
use webtune::platform::block_on;
use webtune::rag::{Document, SentenceEncoder};
use webtune::tokenizer::Message;

fn doc(id: &str, text: &str) -> Document {
    Document {
        id: id.into(),
        title: "Handbook".into(),
        text: text.into(),
    }
}

fn chat(question: &str, answer: &str) -> Example {
    Example::Chat(vec![
        Message::new("system", "Desk."),
        Message::new("user", question),
        Message::new(
            "assistant",
            &format!("Answer: {answer}\nPolicy: HR-1\n— Desk"),
        ),
    ])
}

fn question(q: &str, facts: &[&str], old: &[&str]) -> Question {
    Question {
        question: q.into(),
        facts: facts.iter().map(|s| s.to_string()).collect(),
        old_facts: old.iter().map(|s| s.to_string()).collect(),
        answer: None,
    }
}

#[test]
fn advisor_compares_four_approaches_on_tiny_models() {
    let device = ComputeDevice::cpu();
    let encoder = block_on(SentenceEncoder::load(
        "tiny_bert",
        webtune_tests::tiny_bert_files(),
        &device,
    ))
    .unwrap();
    let placement = Placement::training(&device);
    let loaded = block_on(load_checkpoint_to(
        "tiny/llama",
        webtune_tests::tiny_files("llama"),
        &placement,
    ))
    .unwrap();
    let tokenizer = loaded.tokenizer.clone().unwrap();
    let mut model = loaded.model.no_grad();
    let documents = [
        doc("leave.md", "## Days\n\nYou get 25 days."),
        doc("work.md", "## Home\n\nHome 3 days."),
    ];
    let changed = [doc("work.md", "## Home\n\nHome 2 days.")];
    let training = [
        chat("Days off?", "25 days."),
        chat("Home days?", "3 days."),
        chat("Dogs?", "Fridays."),
    ];
    let questions = [
        question("Days off?", &["25"], &[]),
        question("Leave days?", &["25"], &[]),
        question("Remote days?", &["3"], &[]),
    ];
    let changed_questions = [question("Home days now?", &["2 days"], &["3 days"])];
    // Pairs written from the documents, in no house format: they train, they do not shape it.
    let generated: Vec<Example> = ["How many days do I get?", "Where can I work?", "How long?"]
        .iter()
        .map(|q| {
            Example::Chat(vec![
                Message::new("user", q),
                Message::new("assistant", "You get 25 days."),
            ])
        })
        .collect();
    let mut config = AdviseConfig::default();
    config.train.max_steps = Some(2);
    config.train.batch_size = 2;
    config.k = 1;
    config.max_new_tokens = 4;
    let mut engines = Engines {
        model: &mut model,
        tokenizer: &tokenizer,
        stop_ids: &loaded.stop_ids,
        device: device.device(),
        train_device: &placement.device,
        model_bytes: loaded.config.weight_bytes(false),
        encoder: &encoder,
    };
    let inputs = Inputs {
        documents: &documents,
        changed_documents: &changed,
        training: &training,
        generated: &generated,
        questions: &questions,
        changed_questions: &changed_questions,
    };
    let (mut trained, mut marked) = (Vec::new(), 0);
    let report = block_on(advise(&mut engines, &inputs, &config, |p| {
        match p {
            Progress::Training { arm, .. } if !trained.contains(arm) => trained.push(*arm),
            Progress::Answer(_) => marked += 1,
            _ => {}
        }
        Flow::Continue
    }))
    .unwrap();

    // The training question is not asked again; every approach answered every question.
    assert_eq!(report.held_out_questions, 2);
    assert_eq!(
        (report.training_examples, report.generated_examples),
        (3, 3)
    );
    assert!(
        report
            .markdown()
            .starts_with("3 training examples (+ 3 generated);")
    );
    assert_eq!(report.answers.len(), 4 * 3);
    assert_eq!(marked, 12);
    assert_eq!(trained, [Arm::Lora, Arm::LoraRag]);
    assert_eq!(
        report.format,
        [
            Marker::Label("Answer:".into()),
            Marker::Label("Policy:".into()),
            Marker::Line("— Desk".into())
        ]
    );
    let row = |arm| report.arms.iter().find(|a| a.arm == arm).unwrap();
    let (base, rag, lora, both) = (
        row(Arm::Base),
        row(Arm::Rag),
        row(Arm::Lora),
        row(Arm::LoraRag),
    );
    // Retrieval puts sources in the prompt; adapters and the index take memory.
    assert!(rag.prompt_tokens > base.prompt_tokens + 5.0);
    assert!(lora.memory_bytes > base.memory_bytes && rag.memory_bytes > base.memory_bytes);
    assert!(both.memory_bytes > rag.memory_bytes);
    assert!(lora.training_seconds.is_some() && rag.training_seconds.is_none());
    assert_eq!(base.absorb, Absorb::Never);
    assert!(matches!(lora.absorb, Absorb::Retrain { .. }));
    assert!(matches!(rag.absorb, Absorb::Reindex { documents: 1, .. }));
    // Marks agree with the answers they are drawn from.
    for m in &report.answers {
        let q = questions
            .iter()
            .chain(&changed_questions)
            .find(|q| q.question == m.question)
            .unwrap();
        assert_eq!(m.facts_stated, states_all(&m.answer, &q.facts), "{m:?}");
    }
    assert!(report.markdown().contains("| LoRA + RAG |"));
    // The adapters came off: the model is the base again.
    assert!(webtune::lora::parameters(&model).is_empty());

    // Nothing held out: a clear error before any work.
    let all_trained = [question("Days off?", &["25"], &[])];
    let mut engines = Engines {
        model: &mut model,
        tokenizer: &tokenizer,
        stop_ids: &loaded.stop_ids,
        device: device.device(),
        train_device: &placement.device,
        model_bytes: 0,
        encoder: &encoder,
    };
    let inputs = Inputs {
        questions: &all_trained,
        ..inputs
    };
    let err = block_on(advise(&mut engines, &inputs, &config, |_| Flow::Continue)).unwrap_err();
    assert_eq!(err.kind(), "input");
    assert!(err.to_string().contains("hold some out"), "{err}");

    // Stopped (a stage, an answer, a training step): an error of kind `stopped`, since half a
    // comparison recommends nothing — after the first answer, and in the first training step.
    let inputs = Inputs {
        questions: &questions,
        ..inputs
    };
    let mut answers = 0;
    let err = block_on(advise(&mut engines, &inputs, &config, |p| {
        if let Progress::Answer(_) = p {
            answers += 1;
            return Flow::Stop;
        }
        Flow::Continue
    }))
    .unwrap_err();
    assert_eq!((err.kind(), answers), ("stopped", 1), "{err}");
    let mut steps = 0;
    let err = block_on(advise(&mut engines, &inputs, &config, |p| match p {
        Progress::Training { .. } => {
            steps += 1;
            Flow::Stop
        }
        _ => Flow::Continue,
    }))
    .unwrap_err();
    assert_eq!(err.kind(), "stopped", "{err}");
    assert!(steps >= 1, "{steps}");
}
