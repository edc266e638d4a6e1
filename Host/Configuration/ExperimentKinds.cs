namespace RlActors.Host.Configuration;

/// <summary>The kinds of experiment a file may describe (top-level key <c>kind</c>).</summary>
public static partial class ExperimentKinds
{
    /// <summary>SFT then GRPO on the arithmetic task, on the actor runtime (the default).</summary>
    public const string Grpo = "grpo";
    /// <summary>Supervised counter-current learning (or its baselines) on Fashion-MNIST.</summary>
    public const string Ccl = "ccl";
    /// <summary>Flow-GRPO / TempFlow-GRPO on a flow-matching policy, with explorer actors.</summary>
    public const string Flow = "flow";
}
