using System.Globalization;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace RlActors.Host.Configuration;

/// <summary>One key an experiment file of some kind may set: its dotted name, its meaning, and how it changes the parsed record.</summary>
/// <typeparam name="T">The parsed experiment record.</typeparam>
/// <param name="Name">Dotted key, e.g. <c>grpo.steps</c>.</param>
/// <param name="Doc">Meaning, printed by <c>rlactors keys</c>.</param>
/// <param name="Set">Applies a value; the string is the key as named in error messages (origin and key).</param>
public sealed record ConfigKey<T>(string Name, string Doc, Func<T, HoconValue, string, T> Set);

/// <summary>
/// Reading HOCON experiment files against a table of keys: command-line overrides, unknown keys (with a suggestion),
/// and typed values. Every problem is a <see cref="ConfigError"/> naming the origin and the key.
/// </summary>
public static class ConfigReader
{
    /// <summary>
    /// Checks <paramref name="text"/> strictly (<see cref="HoconSyntax"/>: a syntax error is <c>origin:line:column</c>),
    /// inlines its includes (relative to the file <paramref name="origin"/>'s folder), appends <paramref name="overrides"/>
    /// ("key=value", each a key of <paramref name="table"/>, each checked alone and blamed on its <c>--set</c>), and applies
    /// every key to the record <paramref name="start"/> makes of the expanded text. Returns the record, the expanded text,
    /// the effective text (expanded text plus the overrides: what a store records so that a resume rebuilds exactly this
    /// experiment) and where each key's value came from.
    /// </summary>
    public static ConfigRead<T> Apply<T>(string text, string origin, IReadOnlyList<string> overrides,
        IReadOnlyList<ConfigKey<T>> table, Func<string, T> start, string kindNote = "")
    {
        var extra = new List<string>();
        var setBy = new Dictionary<string, string>();
        foreach (var o in overrides)
        {
            int eq = o.IndexOf('=');
            if (eq <= 0) throw new ConfigError($"--set expects key=value (got '{o}')");
            string key = o[..eq].Trim();
            if (table.All(k => k.Name != key)) throw new ConfigError($"--set {key}: unknown key{kindNote}{Suggest(key, table)}");
            string line = $"{key} = {QuoteIfNeeded(o[(eq + 1)..].Trim())}";
            CheckOverride(line, key, o);
            extra.Add(line);
            setBy[key] = o;
        }
        var blame = new ConfigBlame(origin, setBy, table.Select(k => k.Name));
        string baseDirectory = File.Exists(origin) ? Path.GetDirectoryName(Path.GetFullPath(origin))! : Directory.GetCurrentDirectory();
        string source = HoconSyntax.Expand(text, origin, baseDirectory);
        var config = ParseHocon(source, !ReferenceEquals(source, text), extra, overrides, origin);
        var value = start(source);
        if (config.Root is not null && config.Root.IsObject())
        {
            foreach (var (key, v) in Flatten(config.Root, ""))
            {
                var entry = table.FirstOrDefault(k => k.Name == key)
                    ?? throw new ConfigError($"{origin}: unknown key '{key}'{kindNote}{Suggest(key, table)}");
                value = entry.Set(value, v, blame.Key(key));
            }
        }
        string effective = extra.Count == 0 ? source : source + "\n# command-line overrides\n" + string.Join("\n", extra) + "\n";
        return new ConfigRead<T>(value, source, effective, blame);
    }

    /// <summary>An override's line <c>key = value</c> must be valid on its own and set <paramref name="key"/> alone.</summary>
    private static void CheckOverride(string line, string key, string written)
    {
        if (HoconSyntax.Check(line) is { } p) throw new ConfigError($"--set {written}: {p.Message}");
        Config parsed;
        try { parsed = ConfigurationFactory.ParseString(line); }
        catch (Exception e) { throw new ConfigError($"--set {written}: not a valid value ({e.Message})"); }
        if (parsed.Root is null || !parsed.Root.IsObject() || Flatten(parsed.Root, "").Any(k => k.Key != key))
            throw new ConfigError($"--set {written}: the value must be one value of {key} (quote it if it holds '=' or '{{')");
    }

    /// <summary>The value of the top-level string key <paramref name="key"/> of <paramref name="text"/> (the last
    /// <c>--set key=...</c> of <paramref name="overrides"/> wins), or null when neither sets it or the text is not HOCON
    /// (the full parse then reports that).</summary>
    public static string? Peek(string text, IReadOnlyList<string> overrides, string key)
    {
        var set = overrides.LastOrDefault(o => o.IndexOf('=') is > 0 and var eq && o[..eq].Trim() == key);
        if (set is not null) return Unquote(set[(set.IndexOf('=') + 1)..].Trim());
        try
        {
            var config = ConfigurationFactory.ParseString(text);
            return config.HasPath(key) && config.GetValue(key) is { } v && !v.IsObject() && !v.IsArray() ? v.GetString() : null;
        }
        catch (Exception) { return null; }
    }

    /// <summary>An experiment name must be usable as a folder name: non-empty, no spaces, no invalid file-name characters.</summary>
    public static void CheckName(string name, string origin)
    {
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(' '))
            throw new ConfigError($"{origin}: name must be a non-empty file name without spaces (got '{name}')");
    }

    private static string Unquote(string v) => v.Length >= 2 && v[0] == '"' && v[^1] == '"' ? v[1..^1] : v;

    /// <summary>Akka's parse of the checked text with the override lines appended; an error it still finds is placed
    /// by its character offset: at a line and column of the file (when it has no includes), or on an override.</summary>
    private static Config ParseHocon(string source, bool expanded, IReadOnlyList<string> extra, IReadOnlyList<string> overrides, string origin)
    {
        string text = source + "\n" + string.Join("\n", extra);
        try { return ConfigurationFactory.ParseString(text); }
        catch (Exception e)
        {
            string message = e.Message.Split('\n')[0].Trim().TrimEnd(':');
            var m = System.Text.RegularExpressions.Regex.Match(message, @"at position (\d+)");
            if (!m.Success || !int.TryParse(m.Groups[1].Value, out int at) || at > text.Length)
                throw new ConfigError($"{origin}: not valid HOCON: {message}");
            if (at > source.Length)
            {
                int line = text[(source.Length + 1)..at].Count(c => c == '\n');
                if (line < overrides.Count) throw new ConfigError($"--set {overrides[line]}: not valid HOCON: {message}");
            }
            if (expanded) throw new ConfigError($"{origin} (with its includes): not valid HOCON: {message}");
            int lineNo = text[..at].Count(c => c == '\n') + 1, column = at - (at == 0 ? 0 : text.LastIndexOf('\n', at - 1) + 1) + 1;
            throw new ConfigError($"{origin}:{lineNo}:{column}: not valid HOCON: {message}");
        }
    }

    private static IEnumerable<(string Key, HoconValue Value)> Flatten(HoconValue value, string prefix)
    {
        foreach (var (k, v) in value.GetObject().Items)
        {
            string key = prefix.Length == 0 ? k : prefix + "." + k;
            if (v.IsObject()) foreach (var inner in Flatten(v, key)) yield return inner;
            else yield return (key, v);
        }
    }

    private static string Suggest<T>(string key, IReadOnlyList<ConfigKey<T>> table)
    {
        var near = table.Select(k => k.Name).OrderBy(n => Levenshtein(n, key)).First();
        return Levenshtein(near, key) <= 3 ? $" (did you mean '{near}'?)" : "; run 'rlactors keys' to list the keys";
    }

    private static int Levenshtein(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    private static string QuoteIfNeeded(string v) =>
        v.Length > 0 && (v[0] == '"' || v[0] == '[' || double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _) || v is "true" or "false")
            ? v : "\"" + v.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>Whether <paramref name="v"/> is an empty list, <c>[]</c> (Akka's HOCON does not call it an array).</summary>
    public static bool IsEmptyList(HoconValue v) =>
        v.Values.Count == 0 || v.Values.All(e => e is HoconArray { Count: 0 });

    private static string Raw(HoconValue v, string key)
    {
        if (v.IsArray() || (v.Values.Count > 0 && IsEmptyList(v))) throw new ConfigError($"{key}: expected a single value, got a list");
        return v.GetString() ?? throw new ConfigError($"{key}: missing value");
    }

    /// <summary>A string.</summary>
    public static string Str(HoconValue v, string key) => Raw(v, key);

    /// <summary>An integer of at least <paramref name="min"/>.</summary>
    public static long Long(HoconValue v, string key, long min)
    {
        string s = Raw(v, key);
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long x)) throw new ConfigError($"{key}: expected an integer, got '{s}'");
        if (x < min) throw new ConfigError($"{key}: must be >= {min}, got {x}");
        return x;
    }

    /// <summary>A 32-bit integer of at least <paramref name="min"/>.</summary>
    public static int Int(HoconValue v, string key, int min)
    {
        long x = Long(v, key, min);
        if (x > int.MaxValue) throw new ConfigError($"{key}: {x} is too large");
        return (int)x;
    }

    /// <summary>A finite number.</summary>
    public static double Dbl(HoconValue v, string key)
    {
        string s = Raw(v, key);
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !double.IsFinite(x))
            throw new ConfigError($"{key}: expected a number, got '{s}'");
        return x;
    }

    /// <summary>A number above 0.</summary>
    public static double Pos(HoconValue v, string key)
    {
        double x = Dbl(v, key);
        if (x <= 0) throw new ConfigError($"{key}: must be > 0, got {x}");
        return x;
    }

    /// <summary>true/on/yes or false/off/no.</summary>
    public static bool Bool(HoconValue v, string key) => Raw(v, key) switch
    {
        "true" or "on" or "yes" => true,
        "false" or "off" or "no" => false,
        var s => throw new ConfigError($"{key}: expected true or false, got '{s}'"),
    };

    /// <summary>One of the names of <paramref name="choices"/>.</summary>
    public static TValue OneOf<TValue>(HoconValue v, string key, IReadOnlyDictionary<string, TValue> choices)
    {
        string s = Raw(v, key);
        return choices.TryGetValue(s, out var x) ? x : throw new ConfigError($"{key}: expected {string.Join(", ", choices.Keys)}, got '{s}'");
    }

    /// <summary>A list of integers of at least <paramref name="min"/>, e.g. <c>[784, 128, 10]</c>.</summary>
    public static int[] IntList(HoconValue v, string key, int min)
    {
        if (IsEmptyList(v)) throw new ConfigError($"{key}: the list is empty; it must hold integers, e.g. [784, 128, 10]");
        if (!v.IsArray()) throw new ConfigError($"{key}: expected a list of integers, e.g. [784, 128, 10]");
        return v.GetArray().Select((x, i) => Int(x, $"{key}[{i}]", min)).ToArray();
    }
}

/// <summary>What <see cref="ConfigReader.Apply"/> read: the record, the file's text with its includes inlined, that text
/// with the overrides appended, and where each key's value came from.</summary>
public sealed record ConfigRead<T>(T Value, string SourceText, string EffectiveText, ConfigBlame Blame);

/// <summary>
/// Names the source of a key's value in error messages: <c>--set key=value</c> as the user wrote it when an override set
/// it, the experiment file (or store) otherwise.
/// </summary>
public sealed class ConfigBlame(string origin, IReadOnlyDictionary<string, string> setBy, IEnumerable<string> keys)
{
    private readonly string[] keys = keys.OrderByDescending(k => k.Length).ToArray();

    /// <summary>The label of a key for the value readers, e.g. <c>exp.conf: grpo.steps</c> or <c>--set grpo.steps=x: grpo.steps</c>.</summary>
    public string Key(string key) => $"{Source(key)}: {key}";

    /// <summary>Where <paramref name="key"/>'s value came from: <c>--set key=value</c> or the origin.</summary>
    public string Source(string key) => setBy.TryGetValue(key, out var o) ? $"--set {o}" : origin;

    /// <summary>An error whose <paramref name="message"/> names keys: blamed on the first of them an override set, else on
    /// the origin.</summary>
    public ConfigError Error(string message)
    {
        var named = keys.Select(k => (Key: k, At: IndexOfKey(message, k))).Where(x => x.At >= 0).OrderBy(x => x.At);
        var set = named.FirstOrDefault(x => setBy.ContainsKey(x.Key)).Key;
        return new ConfigError($"{(set is null ? origin : Source(set))}: {message}");
    }

    /// <summary>
    /// A validation error of a library record as a <see cref="ConfigError"/>: the C# parameter suffix dropped, the record's
    /// property names of <paramref name="names"/> replaced by the keys the user writes, blamed as by <see cref="Error"/>.
    /// </summary>
    public ConfigError Invalid(ArgumentException e, IReadOnlyDictionary<string, string>? names = null)
    {
        string message = e.Message;
        int suffix = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        if (suffix >= 0) message = message[..suffix];
        foreach (var (property, key) in names ?? new Dictionary<string, string>())
            message = System.Text.RegularExpressions.Regex.Replace(message, $@"\b{property}\b", key);
        return Error(message);
    }

    private static int IndexOfKey(string message, string key)
    {
        var m = System.Text.RegularExpressions.Regex.Match(message, $@"(?<![\w.-]){System.Text.RegularExpressions.Regex.Escape(key)}(?![\w-]|\.\w)");
        return m.Success ? m.Index : -1;
    }
}
