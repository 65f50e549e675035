package com.example;

import java.nio.file.Path;
import java.util.List;
import org.peft4j.data.*;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.*;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.train.*;

/** Fine-tunes, saves, reloads and generates: java com.example.Main MODEL_DIR TRAIN_JSONL OUTPUT_DIR. */
public class Main {
    public static void main(String[] args) throws Exception {
        Path modelDir = Path.of(args[0]).toAbsolutePath(), adapterDir = Path.of(args[2], "adapter");
        Tokenizer tokenizer = AutoTokenizer.load(modelDir);
        SftDataset data = SftDataset.load(Path.of(args[1]), tokenizer, 128);
        PreTrainedModel model = AutoModelForCausalLM.fromPretrained(modelDir);
        var peftModel = Peft.getPeftModel(model, LoraConfig.builder().r(8).targetModules("q_proj", "v_proj").build());
        var training = TrainingArguments.builder(Path.of(args[2], "run")).learningRate(1e-2).maxSteps(4).build();
        new Trainer(peftModel, training, OrtRuntime.shared())
                .train(data.examples(), null, PaddingCollator.forTokenizer(tokenizer), null);
        peftModel.savePretrained(adapterDir);
        try (AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(adapterDir)) {
            System.out.println("answer: " + m.generate(List.of(Message.user("What is a stock?"))));
        }
    }
}
