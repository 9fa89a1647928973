package com.ticketrush.demo.http;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonCodecTest {

    @Test
    public void parsesFlatObject() {
        Object v = JsonCodec.parse(" {\"userId\": 42, \"concertId\":1} ");
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("userId", 42L);
        expected.put("concertId", 1L);
        assertEquals(expected, v);
    }

    @Test
    public void parsesNestedValuesAndLiterals() {
        Map<?, ?> m = (Map<?, ?>) JsonCodec.parse("{\"a\":[1,-2,3.5,1e3],\"b\":{\"c\":true,\"d\":false,\"e\":null},\"f\":[]}");
        assertEquals(Arrays.asList(1L, -2L, 3.5, 1000.0), m.get("a"));
        Map<?, ?> b = (Map<?, ?>) m.get("b");
        assertEquals(Boolean.TRUE, b.get("c"));
        assertEquals(Boolean.FALSE, b.get("d"));
        assertTrue(b.containsKey("e"));
        assertNull(b.get("e"));
        assertEquals(List.of(), m.get("f"));
    }

    @Test
    public void parsesStringEscapes() {
        assertEquals("a\"b\\c/d\n\t\u00e9\u20ac", JsonCodec.parse("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\u20ac\""));
    }

    @Test
    public void integersTooLargeForLongBecomeDoubles() {
        assertEquals(9223372036854775807L, JsonCodec.parse("9223372036854775807"));
        assertEquals(1.0e19, JsonCodec.parse("10000000000000000000"));
    }

    @Test
    public void rejectsMalformedInput() {
        for (String bad : List.of("", "{", "{\"a\":}", "{\"a\" 1}", "{a:1}", "[1,]", "[1 2]", "\"open",
                "01", "-", "1.", "1e", "tru", "nul", "{\"a\":1}x", "\"\\x\"", "\"\\u12\"", "\"tab\there\"")) {
            assertThrows("should reject: " + bad, JsonCodec.JsonException.class, () -> JsonCodec.parse(bad));
        }
    }

    @Test
    public void rejectsExcessiveNesting() {
        String deep = "[".repeat(1000) + "]".repeat(1000);
        assertThrows(JsonCodec.JsonException.class, () -> JsonCodec.parse(deep));
    }

    @Test
    public void writesObjectsInInsertionOrder() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", "WAITING");
        m.put("rank", 7L);
        m.put("ok", true);
        m.put("none", null);
        m.put("list", List.of(1, 2.5));
        assertEquals("{\"status\":\"WAITING\",\"rank\":7,\"ok\":true,\"none\":null,\"list\":[1,2.5]}", JsonCodec.write(m));
    }

    @Test
    public void escapesStringsWhenWriting() {
        assertEquals("\"q\\\"b\\\\n\\nc\\u0001\"", JsonCodec.write("q\"b\\n\nc\u0001"));
    }

    @Test
    public void writeThenParseRoundTrips() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text", "line1\nline2 \"quoted\" \u00e9");
        m.put("n", -5L);
        m.put("items", List.of("a", 1L, false));
        assertEquals(m, JsonCodec.parse(JsonCodec.write(m)));
    }

    @Test
    public void refusesNonFiniteNumbers() {
        assertThrows(IllegalArgumentException.class, () -> JsonCodec.write(Double.NaN));
    }

    @Test
    public void joinRequestAcceptsValidBody() {
        assertEquals(new JoinRequest(900000001L, 1L), JoinRequest.parse("{\"userId\":900000001,\"concertId\":1}"));
    }

    @Test
    public void joinRequestExplainsWhatIsWrong() {
        assertMessage("request body is empty", "");
        assertMessage("request body must be a JSON object", "[1,2]");
        assertMessage("missing field: userId", "{\"concertId\":1}");
        assertMessage("missing field: concertId", "{\"userId\":1}");
        assertMessage("userId must be an integer", "{\"userId\":\"1\",\"concertId\":1}");
        assertMessage("concertId must be an integer", "{\"userId\":1,\"concertId\":1.5}");
        assertMessage("userId must be positive", "{\"userId\":0,\"concertId\":1}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JoinRequest.parse("{oops"));
        assertTrue(e.getMessage(), e.getMessage().startsWith("malformed JSON: "));
    }

    private static void assertMessage(String expected, String body) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JoinRequest.parse(body));
        assertEquals(expected, e.getMessage());
    }
}
