using RlActors.Environments.Arithmetic;

namespace RlActors.Environments.Tests;

public class CharTokenizerTests
{
    private static readonly CharTokenizer Tok = CharTokenizer.Default;

    [Fact]
    public void Tokenizer_assigns_pad_and_eos_then_the_alphabet_in_order()
    {
        Assert.Equal(0, CharTokenizer.Pad);
        Assert.Equal(1, CharTokenizer.Eos);
        Assert.Equal(23, Tok.VocabSize);
        Assert.Equal([2, 3, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22], Tok.Encode("019+-*()=:QA\n "));
    }

    [Fact]
    public void Tokenizer_round_trips_every_reference_completion()
    {
        var options = new ArithmeticOptions { MinOps = 1, MaxOps = 5, OperandDigits = 2, Operators = "+-*" };
        var generator = new ArithmeticGenerator(options, seed: 11);
        for (int i = 0; i < 2000; i++)
        {
            ArithmeticProblem p = generator.Get(i);
            string text = p.Prompt + p.ReferenceCompletion;
            int[] ids = Tok.EncodeWithEos(text);
            Assert.Equal(text.Length + 1, ids.Length);
            Assert.All(ids, id => Assert.InRange(id, 0, Tok.VocabSize - 1));
            Assert.Equal(text, Tok.Decode(ids));
        }
    }

    [Fact]
    public void Encoding_an_unknown_character_names_the_character_and_its_position()
    {
        var error = Assert.Throws<ArgumentException>(() => Tok.Encode("7+x"));
        Assert.Contains("'x'", error.Message);
        Assert.Contains("position 2", error.Message);
    }

    [Fact]
    public void Decode_stops_at_the_first_terminal_and_shows_unknown_ids_as_question_marks()
    {
        int[] ids = [.. Tok.Encode("7+"), 99, -5, CharTokenizer.Eos, .. Tok.Encode("5")];
        Assert.Equal("7+??", Tok.Decode(ids));
        Assert.Equal("7", Tok.Decode([.. Tok.Encode("7"), CharTokenizer.Pad, .. Tok.Encode("5")]));
        Assert.Equal("", Tok.Decode([]));
    }

    [Fact]
    public void DecodeAll_renders_eos_and_pad_for_debugging()
    {
        int[] ids = [.. Tok.Encode("A:9"), CharTokenizer.Eos, CharTokenizer.Pad, int.MaxValue];
        Assert.Equal("A:9<eos><pad>?", Tok.DecodeAll(ids));
    }

    [Fact]
    public void Only_eos_and_pad_are_terminal()
    {
        Assert.True(Tok.IsTerminal(CharTokenizer.Eos));
        Assert.True(Tok.IsTerminal(CharTokenizer.Pad));
        for (int id = 2; id < Tok.VocabSize; id++)
            Assert.False(Tok.IsTerminal(id));
    }

    [Fact]
    public void A_data_set_tokenizer_has_the_sorted_distinct_characters_of_its_texts_whatever_their_order()
    {
        var a = CharTokenizer.FromTexts(["A counter starts at 7.", "What is it now? é"]);
        var b = CharTokenizer.FromTexts(["What is it now? é", "A counter starts at 7."]);
        Assert.Equal(" .7?AWacehinorstuwé", a.Characters);
        Assert.Equal(a.Characters, b.Characters);
        Assert.Equal(2 + a.Characters.Length, a.VocabSize);
        Assert.Equal([2 + a.Characters.IndexOf('W'), 2 + a.Characters.IndexOf('é')], a.Encode("Wé"));
        Assert.Equal("What is it now? é", a.Decode(a.EncodeWithEos("What is it now? é")));
        Assert.Contains("'x'", Assert.Throws<ArgumentException>(() => a.Encode("x")).Message);
    }

    [Fact]
    public void The_arithmetic_tokenizer_built_from_its_alphabet_gives_the_default_ids()
    {
        var built = new CharTokenizer(CharTokenizer.Alphabet);
        string text = "Q:7+5-3=\nA:9\n ";
        Assert.Equal(Tok.Encode(text), built.Encode(text));
        Assert.Equal(CharTokenizer.Alphabet, Tok.Characters);
        Assert.Throws<ArgumentException>(() => new CharTokenizer("aa"));
    }
}
