#!/usr/bin/env bash
# SPEC 1: the vendor's own example clients (bash/curl/jq, Python requests,
# JavaScript fetch), copied from upstream-api/luma-jobs-get.txt, work against
# the proxy with only the base URL changed (plus a short poll interval, a
# token and a real jobid).  fakeup runs in --demo mode: pending, pending,
# processing, completed.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

need_works jq jq -n true
start_fakeup --demo
must_start_proxy --pending-interval 1

# vendorize FILE TOKEN USER: points a vendor example at the proxy (its
# sleep between polls, the client's own, shortened to 0.4 s), with
# USER@example.com in the jobid (each client polls its own job: the proxy
# keeps one record per jobid, so clients of one job would see each other's
# progress, as they may once upstream granted them the job).
vendorize() {
	sed -i -e "s|https://api.useapi.net|$LP|g" \
	    -e "s|YOUR_API_TOKEN|$2|g" \
	    -e "s|email:\[email protected\]|email:$3@example.com|g" \
	    -e 's|sleep 10$|sleep 0.4|' \
	    -e 's|interval_sec: int = 10|interval_sec: float = 0.4|' \
	    -e 's|intervalMs = 10000|intervalMs = 400|' "$1"
}

# The bash example, as on the vendor page.
cat >"$IT_TMP/vendor.sh" <<'VENDOR'
# Get job status
curl "https://api.useapi.net/v1/luma/jobs/j0326140530123456789v-u12345-email:[email protected]:a1b2c3d4-e5f6-7890-abcd-ef1234567890-bot:luma" \
  -H "Authorization: Bearer YOUR_API_TOKEN"

# Poll for completion (check every 10 seconds)
while true; do
  RESULT=$(curl -s "https://api.useapi.net/v1/luma/jobs/$JOBID" \
    -H "Authorization: Bearer YOUR_API_TOKEN")

  STATUS=$(echo "$RESULT" | jq -r '.status')
  echo "Status: $STATUS"

  if [[ "$STATUS" == "completed" ]]; then
    echo "$RESULT" | jq -r '.response.video.url'
    break
  fi

  if [[ "$STATUS" == "failed" ]]; then
    echo "$RESULT" | jq -r '.error'
    break
  fi

  sleep 10
done
VENDOR

# The Python example, as on the vendor page.
cat >"$IT_TMP/vendor.py" <<'VENDOR'
import requests
import time

api_token = 'YOUR_API_TOKEN'
job_id = 'j0326140530123456789v-u12345-email:[email protected]:a1b2c3d4-e5f6-7890-abcd-ef1234567890-bot:luma'

def get_job_status(job_id: str) -> dict:
    response = requests.get(
        f'https://api.useapi.net/v1/luma/jobs/{job_id}',
        headers={'Authorization': f'Bearer {api_token}'}
    )
    response.raise_for_status()
    return response.json()

def wait_for_completion(job_id: str, interval_sec: int = 10) -> dict:
    while True:
        job = get_job_status(job_id)
        print(f"Status: {job['status']}")

        if job['status'] == 'completed':
            if job['type'] == 'video':
                print(f"Video URL: {job['response']['video']['url']}")
                print(f"Dimensions: {job['response']['video']['width']}x{job['response']['video']['height']}")

                # Download video
                video_response = requests.get(job['response']['video']['url'])
                with open('output.mp4', 'wb') as f:
                    f.write(video_response.content)
                print('Video saved to output.mp4')
            else:
                print(f"Image URL: {job['response']['image']['url']}")

            return job

        if job['status'] == 'failed':
            raise Exception(f"Job failed: {job.get('error')}")

        time.sleep(interval_sec)

job = wait_for_completion(job_id)
VENDOR

# The JavaScript example, as on the vendor page (an ES module: top-level await).
cat >"$IT_TMP/vendor.mjs" <<'VENDOR'
const apiToken = 'YOUR_API_TOKEN'
const jobId = 'j0326140530123456789v-u12345-email:[email protected]:a1b2c3d4-e5f6-7890-abcd-ef1234567890-bot:luma'

const getJobStatus = async (jobId) => {
  const response = await fetch(`https://api.useapi.net/v1/luma/jobs/${jobId}`, {
    headers: {
      'Authorization': `Bearer ${apiToken}`
    }
  })
  return await response.json()
}

// Poll until completion
const waitForCompletion = async (jobId, intervalMs = 10000) => {
  while (true) {
    const job = await getJobStatus(jobId)
    console.log(`Status: ${job.status}`)

    if (job.status === 'completed') {
      if (job.type === 'video') {
        console.log('Video URL:', job.response.video.url)
        console.log('Dimensions:', `${job.response.video.width}x${job.response.video.height}`)
      } else {
        console.log('Image URL:', job.response.image.url)
        console.log('Dimensions:', `${job.response.image.width}x${job.response.image.height}`)
      }
      return job
    }

    if (job.status === 'failed') {
      console.error('Job failed:', job.error)
      throw new Error(job.error)
    }

    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

const job = await waitForCompletion(jobId)
VENDOR

vendorize "$IT_TMP/vendor.sh" tok-bash bash
vendorize "$IT_TMP/vendor.py" tok-python python
vendorize "$IT_TMP/vendor.mjs" tok-node node
JOB_BASH=${SPEC_JOBID/user@/bash@}
JOB_PY=${SPEC_JOBID/user@/python@}
JOB_NODE=${SPEC_JOBID/user@/node@}

tcase "the clients that can run here, started at once"
pids=()
(cd "$IT_TMP" && JOBID=$JOB_BASH timeout 30 bash vendor.sh) \
    >"$IT_TMP/bash.out" 2>"$IT_TMP/bash.err" &
pids+=($!)
PY=""
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import requests' 2>/dev/null; then
		PY=$p
		break
	fi
done
if [ -n "$PY" ]; then
	mkdir "$IT_TMP/py"
	(cd "$IT_TMP/py" && timeout 30 "$PY" ../vendor.py) \
	    >"$IT_TMP/python.out" 2>"$IT_TMP/python.err" &
	pids+=($!)
else
	skip "the Python example" "no python3 here imports requests (Debian: python3-requests)"
fi
NODE=""
if command -v node >/dev/null 2>&1 &&
    node -e 'process.exit(typeof fetch === "function" ? 0 : 1)' 2>/dev/null; then
	NODE=node
	(cd "$IT_TMP" && timeout 30 node vendor.mjs) \
	    >"$IT_TMP/node.out" 2>"$IT_TMP/node.err" &
	pids+=($!)
else
	skip "the JavaScript example" "no node here has fetch (node 18 or later)"
fi
wait "${pids[@]}"

# polled OUTFILE: the statuses a client printed, one line.
polled() {
	grep '^Status: ' "$1" | sed 's/^Status: //' | uniq | tr '\n' ' '
}

tcase "the bash/curl/jq example"
check_re "the single GET prints the job" "$(head -c 300 "$IT_TMP/bash.out")" '"status": "pending"'
check_eq "statuses seen" "$(polled "$IT_TMP/bash.out")" "pending processing completed "
check_re "the video URL" "$(tail -n 1 "$IT_TMP/bash.out")" "^$FAKE/media/.*/video\.mp4\$"
check_not "no curl errors" grep -q 'curl: (' "$IT_TMP/bash.err"
check_upstream "$JOB_BASH" tok-bash 4
echo "# the bash client polled $(grep -c '^Status: ' "$IT_TMP/bash.out")+1 times"

if [ -n "$PY" ]; then
	tcase "the Python requests example"
	check_eq "statuses seen" "$(polled "$IT_TMP/python.out")" "pending processing completed "
	check "Video URL line" grep -q "^Video URL: $FAKE/media/" "$IT_TMP/python.out"
	check "Dimensions line" grep -qx "Dimensions: 1280x720" "$IT_TMP/python.out"
	check "Video saved line" grep -qx "Video saved to output.mp4" "$IT_TMP/python.out"
	check_eq "output.mp4" "$(cat "$IT_TMP/py/output.mp4" 2>/dev/null)" "fake mp4 bytes"
	check_eq "stderr" "$(cat "$IT_TMP/python.err")" ""
	check_upstream "$JOB_PY" tok-python 4
fi

if [ -n "$NODE" ]; then
	tcase "the JavaScript fetch example"
	check_eq "statuses seen" "$(polled "$IT_TMP/node.out")" "pending processing completed "
	check "Video URL line" grep -q "^Video URL: $FAKE/media/" "$IT_TMP/node.out"
	check "Dimensions line" grep -qx "Dimensions: 1280x720" "$IT_TMP/node.out"
	check_eq "stderr" "$(cat "$IT_TMP/node.err")" ""
	check_upstream "$JOB_NODE" tok-node 4
fi

tcase "once completed, the job is a HIT for each client's token"
for c in "tok-bash $JOB_BASH" ${PY:+"tok-python $JOB_PY"} ${NODE:+"tok-node $JOB_NODE"}; do
	set -- $c
	get "$2" "$1"
	check_eq "$1: status, X-Cache" "$STATUS $(header X-Cache)" "200 HIT"
	check_upstream "$2" "$1" 4
done

tcase "fakeup --demo logs one line per request"
check_eq "lines on fakeup's stderr" "$(grep -c '^fakeup: GET ' "$IT_TMP/fakeup.err")" "$(fake_total)"

tcase "demo mode: unknown jobids and the token 'bad'"
get x-not-a-j-job
check_status 400
http -H "Authorization: Bearer any" "$FAKE/v1/luma/jobs/xyz"
check_status 404
get jdemo bad
check_status 401

finish
