using RlActors.Environments.Arithmetic;

namespace RlActors.Environments.Tests;

public class ArithmeticOptionsTests
{
    [Fact]
    public void Defaults_match_the_documented_values()
    {
        var options = new ArithmeticOptions();
        Assert.Equal((1, 3, 1, "+-"), (options.MinOps, options.MaxOps, options.OperandDigits, options.Operators));
        Assert.Equal(9, options.MaxOperand);
        options.Validate();
    }

    [Theory]
    [InlineData(0, 3, 1, "+-", "MinOps")]
    [InlineData(3, 2, 1, "+-", "MaxOps")]
    [InlineData(1, 33, 1, "+-", "MaxOps")]
    [InlineData(1, 3, 0, "+-", "OperandDigits")]
    [InlineData(1, 3, 5, "+-", "OperandDigits")]
    [InlineData(1, 3, 1, "", "Operators")]
    [InlineData(1, 3, 1, "+/", "Operators")]
    [InlineData(1, 3, 1, "++", "Operators")]
    [InlineData(1, 3, 4, "+*", "MaxOps")]
    public void Validate_names_the_bad_property(int minOps, int maxOps, int digits, string operators, string property)
    {
        var options = new ArithmeticOptions { MinOps = minOps, MaxOps = maxOps, OperandDigits = digits, Operators = operators };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(property, error.ParamName);
        Assert.Throws<ArgumentException>(() => new ArithmeticGenerator(options, 0));
    }

    [Fact]
    public void Chains_whose_values_fit_twelve_digits_are_accepted()
    {
        new ArithmeticOptions { MaxOps = 2, OperandDigits = 4, Operators = "+-*" }.Validate();
        new ArithmeticOptions { MaxOps = 11, OperandDigits = 1, Operators = "*" }.Validate();
        new ArithmeticOptions { MaxOps = 32, OperandDigits = 4, Operators = "+-" }.Validate();
    }
}
