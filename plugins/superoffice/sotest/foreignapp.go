package sotest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"synchronizer/plugins/superoffice/internal/wire"
)

// Foreign keys: an integrator's own keys on any record, per app, device and
// device identifier. Lookups by value answer 200 null when nothing matches
// [unconfirmed: the docs do not show the miss].

func (c *call) deviceKey() string {
	return strings.ToLower(c.params["app"] + "/" + c.params["device"] + "/" + c.params["deviceId"])
}

func (c *call) ensureDevice() int {
	k := c.deviceKey()
	if id, ok := c.s.st.devices[k]; ok {
		return id
	}
	id := c.s.st.nextDevice
	c.s.st.nextDevice++
	c.s.st.devices[k] = id
	return id
}

func (c *call) deviceCarrier(id int) wire.ForeignDevice {
	now := fmtUTC(c.s.now(), c.z)
	return wire.ForeignDevice{ForeignDeviceId: id, Name: c.params["device"], DeviceIdentifier: c.params["deviceId"],
		ForeignAppId: 1, CreatedDate: now, UpdatedDate: now, CreatedBy: c.me.name, UpdatedBy: c.me.name,
		AssociateFullName: c.me.fullName, TableRight: rights()}
}

func (c *call) foreignDevicePost() {
	c.s.mu.Lock()
	id := c.ensureDevice()
	d := c.deviceCarrier(id)
	c.s.mu.Unlock()
	c.json(http.StatusOK, d)
}

func (c *call) foreignDeviceGet() {
	c.s.mu.Lock()
	id, ok := c.s.st.devices[c.deviceKey()]
	var d wire.ForeignDevice
	if ok {
		d = c.deviceCarrier(id)
	}
	c.s.mu.Unlock()
	if !ok {
		c.notFound("ForeignDevice", c.params["deviceId"])
		return
	}
	c.json(http.StatusOK, d)
}

func (c *call) keyCarrier(k *foreignKey) wire.ForeignKey {
	by := ""
	if a := c.s.st.assocs[k.by]; a != nil {
		by = a.name
	}
	return wire.ForeignKey{Key: k.key, Value: k.value, RecordId: wire.FlexInt(k.record), TableName: k.table,
		CreatedDate: fmtUTC(k.created, c.z), UpdatedDate: fmtUTC(k.updated, c.z), CreatedBy: by, UpdatedBy: by,
		TableRight: rights()}
}

func (c *call) foreignKeySave() {
	var in wire.ForeignKey
	if !c.body(&in, true) {
		return
	}
	if in.Key == "" || in.TableName == "" || in.RecordId == 0 {
		c.err(http.StatusBadRequest, "SoValidationException", "Key, TableName and RecordId are required")
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.ensureDevice()
	now := c.s.now()
	table := strings.ToLower(in.TableName)
	for _, k := range c.s.st.recordKeys(table, int(in.RecordId)) {
		if strings.EqualFold(k.app, c.params["app"]) && strings.EqualFold(k.device, c.params["device"]) &&
			strings.EqualFold(k.deviceID, c.params["deviceId"]) && strings.EqualFold(k.key, in.Key) {
			c.s.st.setKeyValue(k, in.Value)
			k.updated, k.by = now, c.me.id
			c.json(http.StatusOK, c.keyCarrier(k))
			return
		}
	}
	k := &foreignKey{app: c.params["app"], device: c.params["device"], deviceID: c.params["deviceId"],
		key: in.Key, table: table, record: int(in.RecordId), value: in.Value, created: now, updated: now, by: c.me.id}
	c.s.st.addKey(k)
	c.json(http.StatusOK, c.keyCarrier(k))
}

func (c *call) matchKey(k *foreignKey) bool {
	if !strings.EqualFold(k.app, c.params["app"]) || !strings.EqualFold(k.device, c.params["device"]) ||
		!strings.EqualFold(k.key, c.params["key"]) || k.table != strings.ToLower(c.params["table"]) {
		return false
	}
	if d := c.params["deviceId"]; d != "" && !strings.EqualFold(k.deviceID, d) {
		return false
	}
	return true
}

func (c *call) foreignKeyByValue() {
	value := c.q.Get("keyvalue")
	if value == "" {
		value = c.q.Get("value")
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, k := range c.s.st.keysByValue[value] {
		if c.matchKey(k) {
			c.json(http.StatusOK, c.keyCarrier(k))
			return
		}
	}
	c.null()
}

func (c *call) findByRecord() *foreignKey {
	rec, err := strconv.Atoi(c.params["record"])
	if err != nil {
		return nil
	}
	for _, k := range c.s.st.recordKeys(c.params["table"], rec) {
		if c.matchKey(k) {
			return k
		}
	}
	return nil
}

func (c *call) foreignKeyByRecord() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if k := c.findByRecord(); k != nil {
		c.json(http.StatusOK, c.keyCarrier(k))
		return
	}
	c.null()
}

func (c *call) foreignKeyValue() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if k := c.findByRecord(); k != nil {
		c.json(http.StatusOK, k.value)
		return
	}
	c.null()
}

func (c *call) foreignKeyDelete() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if k := c.findByRecord(); k != nil {
		c.s.st.removeKeys([]*foreignKey{k})
	}
	c.w.WriteHeader(http.StatusNoContent)
}

func jsonString(raw json.RawMessage, out *string) error { return json.Unmarshal(raw, out) }
