using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using static TorchSharp.torch;

namespace RlActors.Policies.Algorithms;

/// <summary>
/// An RL algorithm that trains a language-model policy on scored completions. Sampling, scoring and evaluation
/// (greedy accuracy of <see cref="Policy"/> on the task) stay outside it, so every algorithm runs on the same
/// samplers and reward actors; an algorithm only turns a step's <see cref="ScoredGroup"/>s into an update.
/// Its state (everything besides the policy weights that an exact resume needs) goes through
/// <see cref="SaveState"/> / <see cref="LoadState"/>.
/// </summary>
public interface ILmAlgorithm : IDisposable
{
    /// <summary>The registered name ("grpo", "ppo").</summary>
    string Name { get; }

    /// <summary>The policy being trained (owned by the caller, not disposed with the algorithm).</summary>
    ICausalLm Policy { get; }

    /// <summary>
    /// One RL update on a step's scored groups, given in slot order (so the result is reproducible). Returns the
    /// update's metrics by name: <see cref="GrpoMetrics"/> names where they apply, plus the algorithm's own.
    /// </summary>
    Dictionary<string, double> Train(IReadOnlyList<ScoredGroup> groups);

    /// <summary>Everything a resume needs besides the policy weights (optimizer moments, reference and critic weights ...), by entry name.</summary>
    IReadOnlyDictionary<string, byte[]> SaveState();

    /// <summary>Restores <see cref="SaveState"/>'s entries; a missing or unexpected entry throws <see cref="InvalidDataException"/> naming it.</summary>
    void LoadState(IReadOnlyDictionary<string, byte[]> state);

    /// <summary>Tensors to export besides the policy's (PPO: its critic, under <c>critic.</c> names); the algorithm's own tensors, not copies.</summary>
    IReadOnlyDictionary<string, Tensor> ExportTensors();
}

/// <summary>What every algorithm is built from.</summary>
/// <param name="Policy">The policy to train, as it is now (a reference or critic copies it at construction).</param>
/// <param name="EosId">End token: a completion's loss and reward stop at it.</param>
/// <param name="PadId">Padding token.</param>
/// <param name="Seed">Seed for anything the algorithm initialises itself (a critic's head, ...).</param>
public sealed record LmAlgorithmContext(ICausalLm Policy, int EosId, int PadId, long Seed);

/// <summary>A registered algorithm: its name, the type of its options record, and how to build it.</summary>
/// <param name="Name">Name users write (<c>algorithm = ppo</c>).</param>
/// <param name="OptionsType">The options record it takes.</param>
/// <param name="Factory">Builds the algorithm; the options are of <paramref name="OptionsType"/>.</param>
public sealed record LmAlgorithmEntry(string Name, Type OptionsType, Func<LmAlgorithmContext, object, ILmAlgorithm> Factory)
{
    /// <summary>The experiment-file keys of its options record, each read as <c>{Name}.{key}</c> (e.g. <c>ppo.gamma</c>);
    /// empty for GRPO, whose options are the <c>grpo.*</c> keys shared with sampling.</summary>
    public IReadOnlyList<AlgorithmKey> Keys { get; init; } = [];
    /// <summary>Checks an options record of <see cref="OptionsType"/>, throwing <see cref="ArgumentException"/> naming the key.</summary>
    public Action<object> Validate { get; init; } = _ => { };
}

/// <summary>What kind of value an <see cref="AlgorithmKey"/> takes.</summary>
public enum AlgorithmKeyType
{
    /// <summary>A number (double).</summary>
    Number,
    /// <summary>A whole number of at least 1.</summary>
    Count,
    /// <summary>true or false.</summary>
    Flag,
}

/// <summary>
/// One key of an algorithm's options record as an experiment file sets it, declared next to the record (so adding an
/// algorithm adds its keys without touching the configuration code): its name under the algorithm's section, its meaning
/// (printed by <c>rlactors keys</c>), its value type, and how a value changes the record.
/// </summary>
/// <param name="Name">Key within the algorithm's section, kebab-case (e.g. <c>gae-lambda</c>).</param>
/// <param name="Doc">Its meaning.</param>
/// <param name="Type">Its value type.</param>
/// <param name="Set">(options, value as double, int or bool) → new options.</param>
public sealed record AlgorithmKey(string Name, string Doc, AlgorithmKeyType Type, Func<object, object, object> Set)
{
    /// <summary>A number key of options record <typeparamref name="T"/>.</summary>
    public static AlgorithmKey Number<T>(string name, string doc, Func<T, double, T> set) where T : class =>
        new(name, doc, AlgorithmKeyType.Number, (o, v) => set((T)o, (double)v));
    /// <summary>A whole-number key (at least 1) of options record <typeparamref name="T"/>.</summary>
    public static AlgorithmKey Count<T>(string name, string doc, Func<T, int, T> set) where T : class =>
        new(name, doc, AlgorithmKeyType.Count, (o, v) => set((T)o, (int)v));
    /// <summary>A true/false key of options record <typeparamref name="T"/>.</summary>
    public static AlgorithmKey Flag<T>(string name, string doc, Func<T, bool, T> set) where T : class =>
        new(name, doc, AlgorithmKeyType.Flag, (o, v) => set((T)o, (bool)v));
}

/// <summary>The algorithms a run can choose by name: one line each.</summary>
public static class LmAlgorithms
{
    /// <summary>Every registered algorithm, in the order they are listed to users.</summary>
    public static IReadOnlyList<LmAlgorithmEntry> All { get; } =
    [
        Entry<GrpoOptions>("grpo", (ctx, o) => new GrpoAlgorithm(ctx, o)),
        Entry<PpoOptions>("ppo", (ctx, o) => new PpoAlgorithm(ctx, o)) with { Keys = PpoOptions.Keys, Validate = o => ((PpoOptions)o).Validate() },
    ];

    /// <summary>Names of the registered algorithms.</summary>
    public static IReadOnlyList<string> Names => All.Select(e => e.Name).ToArray();

    /// <summary>The entry called <paramref name="name"/>; an unknown name throws <see cref="ArgumentException"/> listing the known ones.</summary>
    public static LmAlgorithmEntry Find(string name) =>
        All.FirstOrDefault(e => e.Name == name)
        ?? throw new ArgumentException($"algorithm '{name}' is not known (known: {string.Join(", ", Names)})");

    /// <summary>Builds algorithm <paramref name="name"/> with <paramref name="options"/> (its options record; null gives the defaults).</summary>
    public static ILmAlgorithm Create(string name, LmAlgorithmContext context, object? options = null)
    {
        var entry = Find(name);
        options ??= Activator.CreateInstance(entry.OptionsType)!;
        if (!entry.OptionsType.IsInstanceOfType(options))
            throw new ArgumentException($"algorithm '{name}' takes {entry.OptionsType.Name}, not {options.GetType().Name}");
        return entry.Factory(context, options);
    }

    private static LmAlgorithmEntry Entry<TOptions>(string name, Func<LmAlgorithmContext, TOptions, ILmAlgorithm> create) where TOptions : class =>
        new(name, typeof(TOptions), (ctx, o) => create(ctx, (TOptions)o));

    /// <summary>
    /// Checks that <paramref name="state"/> has exactly the entries <paramref name="expected"/>; otherwise throws
    /// <see cref="InvalidDataException"/> naming the first missing or unexpected one and the algorithm.
    /// </summary>
    public static void RequireEntries(string algorithm, IReadOnlyDictionary<string, byte[]> state, IReadOnlyCollection<string> expected)
    {
        foreach (var name in expected)
            if (!state.ContainsKey(name))
                throw new InvalidDataException($"{algorithm} state is missing entry '{name}' (has: {Describe(state.Keys)})");
        foreach (var name in state.Keys.Order(StringComparer.Ordinal))
            if (!expected.Contains(name))
                throw new InvalidDataException($"{algorithm} state has unexpected entry '{name}' (expected: {Describe(expected)})");
    }

    private static string Describe(IEnumerable<string> names)
    {
        var list = names.Order(StringComparer.Ordinal).ToArray();
        return list.Length == 0 ? "none" : string.Join(", ", list);
    }
}
