using System.Collections;
using System.Reflection;

namespace RlActors.Actors.Tests;

/// <summary>Structural equality for protocol records: arrays element by element (floats bit for bit), nested records by property.</summary>
internal static class Deep
{
    public static void Equal(object? expected, object? actual, string path = "$")
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{path}: expected {expected ?? "null"}, got {actual ?? "null"}");
            return;
        }
        Assert.True(expected.GetType() == actual.GetType(), $"{path}: expected a {expected.GetType().Name}, got a {actual.GetType().Name}");
        switch (expected)
        {
            case float f:
                Assert.True(BitConverter.SingleToInt32Bits(f) == BitConverter.SingleToInt32Bits((float)actual), $"{path}: {f} != {actual}");
                return;
            case double d:
                Assert.True(BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits((double)actual), $"{path}: {d} != {actual}");
                return;
            case string or ValueType:
                Assert.True(expected.Equals(actual), $"{path}: expected {expected}, got {actual}");
                return;
            case IDictionary dict:
                var otherDict = (IDictionary)actual;
                Assert.True(dict.Count == otherDict.Count, $"{path}: expected {dict.Count} entries, got {otherDict.Count}");
                foreach (DictionaryEntry e in dict)
                {
                    Assert.True(otherDict.Contains(e.Key), $"{path}: missing key {e.Key}");
                    Equal(e.Value, otherDict[e.Key], $"{path}[{e.Key}]");
                }
                return;
            case IList list:
                var other = (IList)actual;
                Assert.True(list.Count == other.Count, $"{path}: expected {list.Count} elements, got {other.Count}");
                for (int i = 0; i < list.Count; i++) Equal(list[i], other[i], $"{path}[{i}]");
                return;
        }
        foreach (var p in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || p.Name == "EqualityContract") continue;
            Equal(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}");
        }
    }
}
