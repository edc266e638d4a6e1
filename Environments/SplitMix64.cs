namespace RlActors.Environments;

/// <summary>
/// A small, fast, deterministic pseudo-random generator (Steele, Lea and Flood's SplitMix64).
/// Every value follows from the 64-bit state alone, so a stream is reproducible across processes and
/// platforms. Use <see cref="Derive"/> to open an independent stream for a (seed, index) pair: this makes
/// generators counter-based, so item <c>i</c> of a data set never depends on which other items were drawn.
/// </summary>
/// <remarks>Not thread-safe: give each thread its own instance.</remarks>
public sealed class SplitMix64
{
    /// <summary>The odd increment (2^64 divided by the golden ratio) added to the state on every draw.</summary>
    public const ulong Gamma = 0x9E3779B97F4A7C15UL;

    private ulong _state;

    /// <summary>Starts a stream whose first output is <c>Mix(state + Gamma)</c>.</summary>
    public SplitMix64(ulong state) => _state = state;

    /// <summary>The current state; a new generator built from it continues the same stream.</summary>
    public ulong State => _state;

    /// <summary>Seed of an independent stream <paramref name="stream"/> derived from a master <paramref name="seed"/>
    /// (data order, sampling generators, per-slot seeds): every component that derives seeds uses this one rule.</summary>
    public static ulong Stream(ulong seed, ulong stream) => (seed * Gamma) ^ (stream * 0xBF58476D1CE4E5B9UL);

    /// <summary>The SplitMix64 finaliser: a bijective 64-bit hash with good avalanche.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// Opens the private stream for item <paramref name="index"/> of the data set seeded by
    /// <paramref name="seed"/>. Distinct indices under one seed always get distinct streams.
    /// </summary>
    public static SplitMix64 Derive(ulong seed, long index) => new(Mix(Mix(seed) ^ (ulong)index));

    /// <summary>Returns the next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        _state += Gamma;
        return Mix(_state);
    }

    /// <summary>Returns an integer drawn uniformly from [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxExclusive"/> is not positive.</exception>
    public long NextInt64(long maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        ulong bound = (ulong)maxExclusive;
        // 2^64 mod bound: rejecting draws below it leaves a range whose size is a multiple of bound.
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            ulong x = NextUInt64();
            if (x >= threshold)
                return (long)(x % bound);
        }
    }

    /// <summary>Returns an integer drawn uniformly from [0, <paramref name="maxExclusive"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxExclusive"/> is not positive.</exception>
    public int NextInt32(int maxExclusive) => (int)NextInt64(maxExclusive);

    /// <summary>Returns a double drawn uniformly from [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
