using RlActors.Environments.Arithmetic;
using RlActors.Rewards.Capo;

namespace RlActors.Rewards.Tests.Capo;

/// <summary>Responses and critiques for the CAPO tests.</summary>
internal static class CapoTestData
{
    /// <summary>7+5-3*2, answer 18; its reference solution is "7+5=12\n12-3=9\n9*2=18\nA:18".</summary>
    public static ArithmeticProblem ThreeOps => TestGroups.Problem("+-*", 7, 5, 3, 2);

    /// <summary>Parses text followed by EOS.</summary>
    public static ParsedResponse Parse(string text) => StepParser.Parse(TestGroups.Tok.EncodeWithEos(text), TestGroups.Tok);

    /// <summary>A critique request for text answering <paramref name="problem"/>.</summary>
    public static CritiqueRequest Request(ArithmeticProblem problem, string text, string key = "g/0") =>
        CritiquePrompt.Build(key, problem, Parse(text));

    public static Critique Valid(params int[] steps) => Critique.Valid(steps);

    public static Critique Abstain(CritiqueStatus status) => Critique.Abstain(status, "test");
}
