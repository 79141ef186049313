#!/usr/bin/env bash
# One hand check per behaviour of the tiny model through a real server (servers/BEHAVIOUR.md, "The
# effect model"): tools/tiny_model/tiny_model_checks.sh NAME   (P=PORT, default 8051; needs curl and jq)
P=${P:-8051}
c() { curl -s 127.0.0.1:$P/v1/chat/completions -H 'Content-Type: application/json' -d "$1" |
  jq -c '[.choices[]? | {content: .message.content, calls: [.message.tool_calls[]? | "\(.function.name) \(.function.arguments)"], finish: .finish_reason}] // .' ; }
H='"Say hello and introduce yourself in one sentence."'
TOOLS='[{"type":"function","function":{"name":"get_weather","description":"Get the current weather in a city.","parameters":{"type":"object","properties":{"city":{"type":"string","description":"a city name"}},"required":["city"],"additionalProperties":false}}},{"type":"function","function":{"name":"get_time","description":"Get the local time in a city.","parameters":{"type":"object","properties":{"city":{"type":"string","description":"a city name"}},"required":["city"],"additionalProperties":false}}}]'
W='"What is the weather in Paris? Use the get_weather tool."'
case "$1" in
hello) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$H"'}]}';;
system_word) c '{"model":"tiny","temperature":0,"messages":[{"role":"system","content":"Answer with the single word zebra."},{"role":"user","content":'"$H"'}]}';;
developer_word) c '{"model":"tiny","temperature":0,"messages":[{"role":"developer","content":"Answer with the single word marmalade."},{"role":"user","content":'"$H"'}]}';;
name) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","name":"ada","content":"What is my name?"}]}';;
name_control) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"What is my name?"}]}';;
recall) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"The secret word is tangerine."},{"role":"assistant","content":"Noted."},{"role":"user","content":"Hello"},{"role":"assistant","content":"Hello! I am a tiny test model."},{"role":"user","content":"What is the secret word?"}]}';;
recall_ada) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"My name is Ada."},{"role":"assistant","content":"Nice to meet you, Ada."},{"role":"user","content":"What is my name?"}]}';;
weather_auto) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$W"'}],"tools":'"$TOOLS"'}';;
time_auto) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"What time is it in Tokyo?"}],"tools":'"$TOOLS"'}';;
hello_tools_auto) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$H"'}],"tools":'"$TOOLS"'}';;
hello_tools_required) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$H"'}],"tools":'"$TOOLS"',"tool_choice":"required"}';;
hello_tools_none) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$H"'}],"tools":'"$TOOLS"',"tool_choice":"none"}';;
weather_none) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$W"'}],"tools":'"$TOOLS"',"tool_choice":"none"}';;
weather_named_time) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$W"'}],"tools":'"$TOOLS"',"tool_choice":{"type":"function","function":{"name":"get_time"}}}';;
two_cities) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"What is the weather in Paris and in London? Call get_weather once for each city, in parallel."}],"tools":['"$(echo "$TOOLS" | jq -c '.[0]')"']}';;
two_cities_no_parallel) c '{"model":"tiny","temperature":0,"parallel_tool_calls":false,"messages":[{"role":"user","content":"What is the weather in Paris and in London? Call get_weather once for each city, in parallel."}],"tools":['"$(echo "$TOOLS" | jq -c '.[0]')"']}';;
tool_result) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$W"'},{"role":"assistant","content":null,"tool_calls":[{"id":"call_Conf0rmanceProbe0000000A","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_Conf0rmanceProbe0000000A","content":"137 degrees"}],"tools":['"$(echo "$TOOLS" | jq -c '.[0]')"']}';;
creative_t0) for i in 1 2 3; do c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"Write one short sentence about a random animal."}]}'; done;;
creative_t1) for i in 1 2 3 4 5 6; do c '{"model":"tiny","temperature":1,"messages":[{"role":"user","content":"Write one short sentence about a random animal."}]}'; done;;
creative_seed) for s in 42 42 42 4242; do c '{"model":"tiny","temperature":1,"seed":'$s',"messages":[{"role":"user","content":"Write one short sentence about a random animal."}]}'; done;;
creative_top_p) for i in 1 2 3 4; do c '{"model":"tiny","temperature":1,"top_p":0.01,"messages":[{"role":"user","content":"Write one short sentence about a random animal."}]}'; done;;
repeat) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"Repeat the word '"'echo'"' as many times as you can, separated by spaces."}]}';;
repeat_presence) c '{"model":"tiny","temperature":0,"presence_penalty":2,"messages":[{"role":"user","content":"Repeat the word '"'echo'"' as many times as you can, separated by spaces."}]}';;
repeat_frequency) c '{"model":"tiny","temperature":0,"frequency_penalty":2,"messages":[{"role":"user","content":"Repeat the word '"'echo'"' as many times as you can, separated by spaces."}]}';;
json_prompt) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"Describe the city of Paris as a JSON object with the keys name and country. Answer in JSON only."}]}';;
json_schema) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"Describe the city of Paris as a JSON object with the keys name and country. Answer in JSON only."}],"response_format":{"type":"json_schema","json_schema":{"name":"city","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"},"country":{"type":"string"}},"required":["name","country"],"additionalProperties":false}}}}';;
prose_json_mode) c '{"model":"tiny","temperature":0,"messages":[{"role":"system","content":"Answer in plain prose sentences."},{"role":"user","content":"Describe Paris in one sentence (this request may run in json mode)."}]}';;
prose_json_object) c '{"model":"tiny","temperature":0,"response_format":{"type":"json_object"},"messages":[{"role":"system","content":"Answer in plain prose sentences."},{"role":"user","content":"Describe Paris in one sentence (this request may run in json mode)."}]}';;
max_tokens) c '{"model":"tiny","temperature":0,"max_tokens":3,"messages":[{"role":"user","content":'"$H"'}]}';;
stop) c '{"model":"tiny","temperature":0,"stop":"tiny","messages":[{"role":"user","content":'"$H"'}]}';;
hello_tools) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$H"'}],"tools":'"$TOOLS"'}';;
hello_weather_required) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$H"'}],"tools":['"$(echo "$TOOLS" | jq -c '.[0]')"'],"tool_choice":"required"}';;
hello_weather_none) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$H"'}],"tools":['"$(echo "$TOOLS" | jq -c '.[0]')"'],"tool_choice":"none"}';;
strict) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$W"'}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather at an airport.","parameters":{"type":"object","properties":{"iata":{"type":"string","pattern":"^[A-Z]{3}$","description":"IATA airport code"},"unit":{"type":"string","enum":["kelvin","rankine"]}},"required":["iata","unit"],"additionalProperties":false},"strict":true}}],"tool_choice":"required"}';;
strict_loose) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$W"'}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather at an airport.","parameters":{"type":"object","properties":{"iata":{"type":"string","pattern":"^[A-Z]{3}$","description":"IATA airport code"},"unit":{"type":"string","enum":["kelvin","rankine"]}},"required":["iata","unit"],"additionalProperties":false}}}],"tool_choice":"required"}';;
followup) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$W"'},{"role":"assistant","content":null,"tool_calls":[{"id":"call_Conf0rmanceProbe0000000A","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_Conf0rmanceProbe0000000A","content":"Cloudy, 137 degrees"}],"tools":['"$(echo "$TOOLS" | jq -c '.[0]')"']}';;
content_parts) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":[{"type":"text","text":'"$H"'},{"type":"text","text":"Whatever the user says, answer with the single word pineapple."}]}]}';;
user_after_tool) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":'"$W"'},{"role":"assistant","content":null,"tool_calls":[{"id":"abc123XY0","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},{"role":"tool","tool_call_id":"abc123XY0","content":"Cloudy, 137 degrees"},{"role":"user","content":"Thanks. Now answer with exactly one word: PINEAPPLE."}],"tools":['"$(echo "$TOOLS" | jq -c '.[0]')"']}';;
system_pineapple) c '{"model":"tiny","temperature":0,"messages":[{"role":"system","content":"Whatever the user says, answer with the single word pineapple."},{"role":"user","content":'"$H"'}]}';;
recall_marmalade) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","content":"The secret word is marmalade."},{"role":"assistant","content":"Noted."},{"role":"user","content":"What is the secret word?"}]}';;
name_margaret) c '{"model":"tiny","temperature":0,"messages":[{"role":"user","name":"Margaret","content":"What is my name?"}]}';;
*) echo "unknown $1";;
esac
