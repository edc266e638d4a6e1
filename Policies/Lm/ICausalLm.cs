using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlActors.Policies.Lm;

/// <summary>
/// What the LM algorithms need of a causal language model: sampling (<see cref="LmSampler"/>), scoring
/// (<see cref="LmScoring"/>), SFT, GRPO and PPO see a model only through this, so they run unchanged on the toy
/// <see cref="TransformerLm"/> and on a Hugging Face-layout decoder (<c>HfDecoderLm</c>).
/// Inputs are the left-padded batches of <see cref="SequenceBatch"/>: tokens and positions [B, Tq], and a key mask
/// [B, Tk] (true where a key is a real token; Tk = cached length + Tq). The lower-case members are TorchSharp's
/// own <see cref="nn.Module"/> methods, which every implementation inherits.
/// </summary>
public interface ICausalLm : IDisposable
{
    /// <summary>Number of token ids the model scores (rows of its output head).</summary>
    int VocabSize { get; }

    /// <summary>Longest sequence (prompt + completion) the model accepts.</summary>
    int MaxLength { get; }

    /// <summary>Width of the final hidden states (what a value head reads).</summary>
    int HiddenSize { get; }

    /// <summary>Device the parameters live on.</summary>
    Device Device { get; }

    /// <summary>The model's shape record (its config), printed in errors and compared by checkpoints.</summary>
    object Shape { get; }

    /// <summary>Names (as in <see cref="nn.Module.named_parameters"/>) of the parameters that only the output head
    /// uses: a critic built from a copy of the model does not train them.</summary>
    IReadOnlyCollection<string> HeadOnlyParameters { get; }

    /// <summary>The model as a TorchSharp module (to register it inside another module, or to read its state).</summary>
    nn.Module Module { get; }

    /// <summary>Logits [B, Tq, V] in float32. With a <paramref name="cache"/>, the new keys and values are appended to it.</summary>
    Tensor Forward(Tensor tokens, Tensor positions, Tensor keyValid, KvCache? cache);

    /// <summary>The final hidden states [B, Tq, <see cref="HiddenSize"/>] (after the last norm, before the output head). No cache.</summary>
    Tensor HiddenStates(Tensor tokens, Tensor positions, Tensor keyValid);

    /// <summary>An empty key/value cache for <paramref name="batch"/> rows of up to <paramref name="maxLength"/> positions.</summary>
    KvCache NewCache(long batch, long maxLength);

    /// <summary>The weights as bytes (TorchSharp's format): what a checkpoint stores and a sampler receives.</summary>
    byte[] SaveWeights();

    /// <summary>Loads bytes of <see cref="SaveWeights"/>; weights of another shape throw <see cref="InvalidDataException"/> naming both shapes.</summary>
    void LoadWeights(byte[] bytes);

    /// <summary>A new model of the same shape, dtype and device with a copy of these weights (a frozen reference, a critic's trunk).</summary>
    ICausalLm Clone();

    /// <summary>The trainable tensors (TorchSharp's <see cref="nn.Module.parameters"/>).</summary>
    IEnumerable<Parameter> parameters(bool recurse = true);

    /// <summary>Training mode (TorchSharp's <see cref="nn.Module.train"/>).</summary>
    void train(bool on = true);

    /// <summary>Evaluation mode (TorchSharp's <see cref="nn.Module.eval"/>).</summary>
    void eval();
}
