using System.Text;
using RlActors.Environments;
using RlActors.Environments.Arithmetic;

namespace RlActors.Rewards.Capo;

/// <summary>
/// A generative process reward model: writes critiques of a response, each ending with the list of its wrong steps.
/// Implementations are thread-safe: one judge serves many responses at once.
/// </summary>
public interface IGenPrmJudge
{
    /// <summary>A short stable name for configuration, metrics and logs ("openai", "oracle", "noisy-oracle").</summary>
    string Name { get; }

    /// <summary>
    /// Writes <paramref name="count"/> critiques of one response: critique numbers <paramref name="firstIndex"/> to
    /// <paramref name="firstIndex"/> + <paramref name="count"/> − 1 of this response (the numbers let a judge that
    /// draws random numbers give every critique its own stream, whichever voter asks for it).
    /// </summary>
    /// <returns>Exactly <paramref name="count"/> critiques, in critique-number order.</returns>
    /// <remarks>
    /// Never throws except <see cref="OperationCanceledException"/> when <paramref name="ct"/> is cancelled: errors
    /// become <see cref="CritiqueStatus.Failed"/> or <see cref="CritiqueStatus.TimedOut"/> critiques with a Detail.
    /// </remarks>
    Task<IReadOnlyList<Critique>> CritiqueAsync(CritiqueRequest request, int count, int firstIndex, CancellationToken ct);
}

/// <summary>
/// The arithmetic task's rule checker as a judge: every critique flags exactly the steps whose
/// <see cref="ArithmeticVerifier.CheckSteps"/> verdict is not <see cref="StepVerdict.Correct"/> (arithmetic
/// errors, wrong operands, malformed and extra steps). Name "oracle". Deterministic and thread-safe.
/// </summary>
public sealed class OracleJudge : IGenPrmJudge
{
    /// <summary>The name used in configuration and metrics.</summary>
    public const string JudgeName = "oracle";

    /// <inheritdoc />
    public string Name => JudgeName;

    /// <summary>The steps the rule checker calls wrong (1-based, ascending).</summary>
    public static int[] WrongSteps(ArithmeticProblem problem, ParsedResponse response)
    {
        IReadOnlyList<StepVerdict> verdicts = ArithmeticVerifier.CheckSteps(problem, response);
        var wrong = new List<int>();
        for (int i = 0; i < verdicts.Count; i++)
            if (verdicts[i] != StepVerdict.Correct)
                wrong.Add(i + 1);
        return [.. wrong];
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Critique>> CritiqueAsync(CritiqueRequest request, int count, int firstIndex, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(firstIndex);
        ct.ThrowIfCancellationRequested();
        int[] wrong = WrongSteps(request.Problem, request.Response);
        var critiques = new Critique[count];
        for (int c = 0; c < count; c++)
            critiques[c] = new Critique(CritiqueStatus.Valid, [.. wrong]);
        return Task.FromResult<IReadOnlyList<Critique>>(critiques);
    }
}

/// <summary>
/// The oracle with seeded per-step errors: a controlled stand-in for an imperfect LLM judge, for studying voting.
/// Name "noisy-oracle".
/// </summary>
/// <remarks>
/// <para>For critique <c>c</c> of a response and each of its steps, the truth comes from <see cref="OracleJudge"/>;
/// then the verdict is flipped or not: a correct step becomes wrong with probability
/// <see cref="FalsePositiveRate"/>, a wrong step becomes correct with probability <see cref="FalseNegativeRate"/>.</para>
/// <para>Correlation: with probability <see cref="Correlation"/> a step's flip decision is the one shared by all
/// critiques of the response (drawn once per response and step), otherwise the critique draws its own. Each
/// critique's error rates are the same whatever the correlation; at 0 critiques err independently (the optimistic
/// case for voting), at 1 all critiques of a response are identical and voting cannot help.</para>
/// <para>Every draw comes from a counter-based stream of (seed, a stable 64-bit FNV-1a hash of
/// <see cref="CritiqueRequest.ResponseKey"/>, critique number), so critique <c>c</c> of a response is the same in
/// every process, on every thread and in any call order, whichever voter asks for it.</para>
/// </remarks>
public sealed class NoisyOracleJudge : IGenPrmJudge
{
    /// <summary>The name used in configuration and metrics.</summary>
    public const string JudgeName = "noisy-oracle";

    /// <summary>Creates the judge.</summary>
    /// <param name="falsePositiveRate">Probability that a correct step is flagged, in [0, 1].</param>
    /// <param name="falseNegativeRate">Probability that a wrong step is missed, in [0, 1].</param>
    /// <param name="correlation">Probability that a step's error is shared by all critiques of the response, in [0, 1].</param>
    /// <param name="seed">The seed of all draws.</param>
    /// <exception cref="ArgumentOutOfRangeException">A probability is outside [0, 1] or NaN.</exception>
    public NoisyOracleJudge(double falsePositiveRate, double falseNegativeRate, double correlation, ulong seed)
    {
        CheckProbability(falsePositiveRate, nameof(falsePositiveRate));
        CheckProbability(falseNegativeRate, nameof(falseNegativeRate));
        CheckProbability(correlation, nameof(correlation));
        FalsePositiveRate = falsePositiveRate;
        FalseNegativeRate = falseNegativeRate;
        Correlation = correlation;
        Seed = seed;
    }

    /// <summary>Probability that a correct step is flagged.</summary>
    public double FalsePositiveRate { get; }

    /// <summary>Probability that a wrong step is missed.</summary>
    public double FalseNegativeRate { get; }

    /// <summary>Probability that a step's error decision is shared by all critiques of the response.</summary>
    public double Correlation { get; }

    /// <summary>The seed of all draws.</summary>
    public ulong Seed { get; }

    /// <inheritdoc />
    public string Name => JudgeName;

    /// <inheritdoc />
    public Task<IReadOnlyList<Critique>> CritiqueAsync(CritiqueRequest request, int count, int firstIndex, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(firstIndex);
        ct.ThrowIfCancellationRequested();
        int[] truth = OracleJudge.WrongSteps(request.Problem, request.Response);
        int steps = request.Response.Steps.Count;
        var critiques = new Critique[count];
        for (int c = 0; c < count; c++)
            critiques[c] = new Critique(CritiqueStatus.Valid, Flagged(request.ResponseKey, truth, steps, firstIndex + c));
        return Task.FromResult<IReadOnlyList<Critique>>(critiques);
    }

    /// <summary>The wrong steps of critique <paramref name="critiqueIndex"/> of a response, given the oracle's truth.</summary>
    /// <param name="responseKey">The response's stable key.</param>
    /// <param name="truth">The oracle's wrong steps (1-based).</param>
    /// <param name="stepCount">The number of steps of the response.</param>
    /// <param name="critiqueIndex">The critique number, 0-based.</param>
    public int[] Flagged(string responseKey, IReadOnlyCollection<int> truth, int stepCount, int critiqueIndex)
    {
        ArgumentNullException.ThrowIfNull(responseKey);
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        ArgumentOutOfRangeException.ThrowIfNegative(critiqueIndex);

        ulong response = SplitMix64.Stream(Seed, StableHash.Of(responseKey));
        var shared = new SplitMix64(SplitMix64.Stream(response, 0));
        var own = new SplitMix64(SplitMix64.Stream(response, 1 + (ulong)critiqueIndex));
        var flagged = new List<int>();
        for (int step = 1; step <= stepCount; step++)
        {
            // Three draws per step, always, so step k's draws never depend on earlier steps' outcomes.
            double sharedDraw = shared.NextDouble();
            double choose = own.NextDouble();
            double ownDraw = own.NextDouble();
            bool wrong = truth.Contains(step);
            double flipRate = wrong ? FalseNegativeRate : FalsePositiveRate;
            bool flip = (choose < Correlation ? sharedDraw : ownDraw) < flipRate;
            if (wrong != flip)
                flagged.Add(step);
        }
        return [.. flagged];
    }

    private static void CheckProbability(double p, string name)
    {
        if (!(p >= 0 && p <= 1))
            throw new ArgumentOutOfRangeException(name, p, $"{name} must be a probability in [0, 1].");
    }
}

/// <summary>A string hash that is the same in every process and .NET version (unlike string.GetHashCode).</summary>
internal static class StableHash
{
    /// <summary>FNV-1a over the UTF-8 bytes, finished with the SplitMix64 mixer.</summary>
    public static ulong Of(string text)
    {
        ulong hash = 0xCBF29CE484222325UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= 0x100000001B3UL;
        }
        return SplitMix64.Mix(hash);
    }
}
