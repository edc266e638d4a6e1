namespace RlActors.Environments.Flow2d;

/// <summary>When, along the denoising path, the rewarded choice is made.</summary>
public enum Flow2dKind
{
    /// <summary>
    /// The reward prefers one of the class's well-separated modes: the choice is made in the first, noisiest
    /// denoising steps (modes 2·R·sin(π/M) apart, about 3.5 for the defaults, are told apart once (1 − t)·3.5 ≳ t, t ≲ 0.78).
    /// </summary>
    EarlyDecision,
    /// <summary>
    /// Every mode is split radially into sub-modes <see cref="Flow2dOptions.SubModeGap"/> apart and the reward prefers
    /// one sub-mode index in every mode, so which mode is taken does not matter and the rewarded choice is made late
    /// (the sub-modes are told apart once (1 − t)·gap ≳ t, t ≈ gap / (1 + gap) ≈ 0.44 for the default gap 0.8).
    /// </summary>
    LateDecision,
}

/// <summary>Shape of a <see cref="Flow2dTask"/>. Config keys are the kebab-case names under <c>flow2d.</c>.</summary>
public sealed record Flow2dOptions
{
    /// <summary>Which decision the reward depends on.</summary>
    public Flow2dKind Kind { get; init; } = Flow2dKind.EarlyDecision;
    /// <summary>Number of classes (prompts) K.</summary>
    public int Classes { get; init; } = 4;
    /// <summary>Modes per class M, evenly spaced on a ring.</summary>
    public int Modes { get; init; } = 3;
    /// <summary>Sub-modes per mode S of the late-decision task (ignored, taken as 1, by the early-decision task).</summary>
    public int SubModes { get; init; } = 2;
    /// <summary>Ring radius R.</summary>
    public double Radius { get; init; } = 2.0;
    /// <summary>Radial distance between neighbouring sub-modes of the late-decision task.</summary>
    public double SubModeGap { get; init; } = 0.8;
    /// <summary>Standard deviation of each isotropic Gaussian component of the data.</summary>
    public double ModeStd { get; init; } = 0.05;
    /// <summary>
    /// Length scale ℓ of the reward exp(−d²/ℓ²). 0 picks the kind's default: 1 for the early-decision task (the
    /// calibration's exp(−d²)), SubModeGap / 2 for the late-decision task (the wrong sub-mode scores exp(−4) ≈ 0.02).
    /// It should stay well above the last SDE step's noise (0.074 at 10 steps, a = 0.7): a narrower reward is unusable.
    /// </summary>
    public double RewardScale { get; init; } = 0;
    /// <summary>Seed of the hidden preferred mode (and sub-mode) of each class.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>ℓ after applying the kind's default.</summary>
    public double EffectiveRewardScale => RewardScale > 0 ? RewardScale : Kind == Flow2dKind.EarlyDecision ? 1.0 : SubModeGap / 2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Classes < 1) throw new ArgumentException($"flow2d.classes must be >= 1 (got {Classes})");
        if (Modes < 1) throw new ArgumentException($"flow2d.modes must be >= 1 (got {Modes})");
        if (Kind == Flow2dKind.LateDecision && SubModes < 2) throw new ArgumentException($"flow2d.sub-modes must be >= 2 for the late-decision task (got {SubModes})");
        if (!(Radius > 0)) throw new ArgumentException($"flow2d.radius must be > 0 (got {Radius})");
        if (!(SubModeGap > 0)) throw new ArgumentException($"flow2d.sub-mode-gap must be > 0 (got {SubModeGap})");
        if (Kind == Flow2dKind.LateDecision && !(Radius - SubModeGap * (SubModes - 1) / 2 > 0))
            throw new ArgumentException($"flow2d.radius ({Radius}) must exceed half the sub-mode span ({SubModeGap * (SubModes - 1) / 2})");
        if (!(ModeStd >= 0)) throw new ArgumentException($"flow2d.mode-std must be >= 0 (got {ModeStd})");
        if (!(RewardScale >= 0)) throw new ArgumentException($"flow2d.reward-scale must be >= 0 (got {RewardScale})");
    }
}

/// <summary>
/// A 2-D class-conditional Gaussian mixture and its reward, for flow-matching RL.
/// <para>Layout: component (c, m, s) of class c ∈ [0, K), mode m ∈ [0, M), sub-mode s ∈ [0, S) is centred at
/// ρ_s·(cos θ_{c,m}, sin θ_{c,m}) with θ_{c,m} = 2π·m/M + 2π·c/(K·M) (the classes' rings interleave, so the class
/// conditioning matters) and ρ_s = R + (s − (S − 1)/2)·gap (S = 1 for the early-decision task, so ρ = R).
/// Data of class c is the equal-weight mixture of its M·S components, each N(centre, ModeStd²·I).</para>
/// <para>Reward of a point x for class c, with ℓ = <see cref="Flow2dOptions.EffectiveRewardScale"/>:
/// early-decision r = exp(−‖x − centre(c, m*_c, 0)‖²/ℓ²) with the hidden preferred mode m*_c;
/// late-decision r = exp(−min_m ‖x − centre(c, m, s*_c)‖²/ℓ²) with the hidden preferred sub-mode s*_c (the same in
/// every mode). m*_c and s*_c are drawn from <c>SplitMix64.Derive(Seed, c)</c>. The reward lies in (0, 1]; the
/// pretrained mixture scores about 1/M (early) or 1/S (late), a policy that only produces the preferred component
/// scores 1/(1 + 2·ModeStd²/ℓ²) in expectation (0.995 early, 0.97 late at the defaults).</para>
/// Immutable and thread-safe; sampling draws from the caller's <see cref="SplitMix64"/>.
/// </summary>
public sealed class Flow2dTask
{
    private readonly int[] preferredMode;
    private readonly int[] preferredSubMode;
    private readonly double invScale2;

    /// <summary>Dimension of a sample (2).</summary>
    public const int Dim = 2;

    /// <summary>The task's options.</summary>
    public Flow2dOptions Options { get; }
    /// <summary>Number of classes K.</summary>
    public int Classes => Options.Classes;
    /// <summary>Sub-modes per mode actually used (1 for the early-decision task).</summary>
    public int SubModes => Options.Kind == Flow2dKind.EarlyDecision ? 1 : Options.SubModes;

    /// <summary>Builds the task; throws <see cref="ArgumentException"/> for invalid options.</summary>
    public Flow2dTask(Flow2dOptions options)
    {
        options.Validate();
        Options = options;
        preferredMode = new int[options.Classes];
        preferredSubMode = new int[options.Classes];
        for (int c = 0; c < options.Classes; c++)
        {
            var rng = SplitMix64.Derive(options.Seed, c);
            preferredMode[c] = rng.NextInt32(options.Modes);
            preferredSubMode[c] = rng.NextInt32(Math.Max(1, options.SubModes));
        }
        if (options.Kind == Flow2dKind.EarlyDecision) Array.Clear(preferredSubMode);
        double l = options.EffectiveRewardScale;
        invScale2 = 1.0 / (l * l);
    }

    /// <summary>The hidden mode m*_c the early-decision reward prefers.</summary>
    public int PreferredMode(int cls) => preferredMode[CheckClass(cls)];

    /// <summary>The hidden sub-mode s*_c the late-decision reward prefers (0 for the early-decision task).</summary>
    public int PreferredSubMode(int cls) => preferredSubMode[CheckClass(cls)];

    /// <summary>Centre of component (<paramref name="cls"/>, <paramref name="mode"/>, <paramref name="subMode"/>).</summary>
    public (double X, double Y) Centre(int cls, int mode, int subMode = 0)
    {
        CheckClass(cls);
        if ((uint)mode >= (uint)Options.Modes) throw new ArgumentOutOfRangeException(nameof(mode), mode, $"mode must be in [0, {Options.Modes})");
        if ((uint)subMode >= (uint)SubModes) throw new ArgumentOutOfRangeException(nameof(subMode), subMode, $"sub-mode must be in [0, {SubModes})");
        double theta = 2 * Math.PI * mode / Options.Modes + 2 * Math.PI * cls / ((double)Options.Classes * Options.Modes);
        double rho = Options.Radius + (subMode - (SubModes - 1) / 2.0) * Options.SubModeGap;
        return (rho * Math.Cos(theta), rho * Math.Sin(theta));
    }

    /// <summary>The points the reward of <paramref name="cls"/> is centred on: one (early) or one per mode (late).</summary>
    public IReadOnlyList<(double X, double Y)> Targets(int cls)
    {
        CheckClass(cls);
        return Options.Kind == Flow2dKind.EarlyDecision
            ? [Centre(cls, preferredMode[cls])]
            : Enumerable.Range(0, Options.Modes).Select(m => Centre(cls, m, preferredSubMode[cls])).ToArray();
    }

    /// <summary>Reward of the point (<paramref name="x"/>, <paramref name="y"/>) for class <paramref name="cls"/> (see the class summary).</summary>
    public double Reward(int cls, double x, double y)
    {
        CheckClass(cls);
        double best = double.PositiveInfinity;
        if (Options.Kind == Flow2dKind.EarlyDecision)
        {
            var (cx, cy) = Centre(cls, preferredMode[cls]);
            best = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        }
        else
        {
            for (int m = 0; m < Options.Modes; m++)
            {
                var (cx, cy) = Centre(cls, m, preferredSubMode[cls]);
                best = Math.Min(best, (x - cx) * (x - cx) + (y - cy) * (y - cy));
            }
        }
        return double.IsFinite(best) ? Math.Exp(-best * invScale2) : 0.0;
    }

    /// <summary>Rewards of the points <paramref name="xy"/> (x0, y0, x1, y1, …), all of class <paramref name="cls"/>.</summary>
    public float[] Rewards(int cls, ReadOnlySpan<float> xy)
    {
        if (xy.Length % Dim != 0) throw new ArgumentException($"{xy.Length} coordinates are not whole 2-D points");
        var r = new float[xy.Length / Dim];
        for (int i = 0; i < r.Length; i++) r[i] = (float)Reward(cls, xy[2 * i], xy[2 * i + 1]);
        return r;
    }

    /// <summary>
    /// Draws one point of class <paramref name="cls"/>'s data mixture into <paramref name="xy"/> (2 values): a
    /// component uniformly, then a Gaussian around its centre (Box–Muller on two uniforms of <paramref name="rng"/>).
    /// </summary>
    public void Sample(int cls, SplitMix64 rng, Span<float> xy)
    {
        CheckClass(cls);
        if (xy.Length != Dim) throw new ArgumentException($"a 2-D point needs 2 values (got {xy.Length})");
        int component = rng.NextInt32(Options.Modes * SubModes);
        var (cx, cy) = Centre(cls, component / SubModes, component % SubModes);
        var (gx, gy) = Gaussian2(rng);
        xy[0] = (float)(cx + Options.ModeStd * gx);
        xy[1] = (float)(cy + Options.ModeStd * gy);
    }

    /// <summary>One data point per entry of <paramref name="classes"/>, as (x0, y0, x1, y1, …).</summary>
    public float[] SampleBatch(ReadOnlySpan<int> classes, SplitMix64 rng)
    {
        var xy = new float[classes.Length * Dim];
        for (int i = 0; i < classes.Length; i++) Sample(classes[i], rng, xy.AsSpan(i * Dim, Dim));
        return xy;
    }

    /// <summary>Two independent standard normals (Box–Muller).</summary>
    public static (double, double) Gaussian2(SplitMix64 rng)
    {
        double u1 = 1.0 - rng.NextDouble(); // (0, 1]: log is finite
        double u2 = rng.NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        return (radius * Math.Cos(2 * Math.PI * u2), radius * Math.Sin(2 * Math.PI * u2));
    }

    private int CheckClass(int cls) =>
        (uint)cls < (uint)Options.Classes ? cls : throw new ArgumentOutOfRangeException(nameof(cls), cls, $"class must be in [0, {Options.Classes})");
}
