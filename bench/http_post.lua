-- http_post.lua - wrk script for mille serve: POST /v1/parse, cycling through utterances in
-- several languages and scripts; counts non-200 replies (wrk reports them too).
local bodies = {
  '{"text": "wake me up at five am this week", "locale": "en-US"}',
  '{"text": "réveille-moi à cinq heures du matin cette semaine", "locale": "fr-FR"}',
  '{"text": "今週は午前五時に起こして", "locale": "ja-JP"}',
  '{"text": "spiele musik von den beatles", "locale": "de-DE"}',
  '{"text": "ما هو الطقس في الرياض غدا", "locale": "ar-SA"}',
  '{"text": "поставь будильник на шесть утра", "locale": "ru-RU"}',
  '{"text": "कल सुबह सात बजे मुझे जगाओ"}',
  '{"text": "明天早上八点叫醒我"}',
}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/parse", {["Content-Type"] = "application/json"}, bodies[i])
end
